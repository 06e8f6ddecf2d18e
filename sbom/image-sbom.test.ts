import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLayer } from '../registry/layers/index.js';
import { appendLayers, emptyImage } from '../registry/mutate/index.js';
import type { Layer } from '../registry/oci/index.js';
import { collectImageSbom, osPackagesKey, sbomDocuments, type Component, type OsPackagesCache } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'lading-image-sbom-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STATUS = 'Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.2-3\nSource: foo\n';

/** A layer whose uncompressed() calls are counted. */
function counted(layer: Layer): { layer: Layer; reads: () => number } {
  let n = 0;
  return { layer: { ...layer, uncompressed: async () => { n++; return layer.uncompressed(); } } as Layer, reads: () => n };
}

describe('the image SBOM with an OS package cache', () => {
  it('reads the run image layers once and gives the same documents from the cache', async () => {
    const dpkg = await createLayer({ entries: [{ type: 'file', path: '/var/lib/dpkg/status.d/libfoo1', content: STATUS, uid: 0, gid: 0 }] }, { tempDir: dir });
    const { layer, reads } = counted(dpkg);
    const image = appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer });
    const store = new Map<string, string>();
    const cache: OsPackagesCache = {
      get: async (k) => (store.has(k) ? (JSON.parse(store.get(k)!) as Component[]) : undefined),
      put: async (k, c) => void store.set(k, JSON.stringify(c)),
    };
    const plain = await collectImageSbom(image, 'app');
    expect(plain.components.map((c) => c.name)).toEqual(['libfoo1']);
    const before = reads();
    const first = await collectImageSbom(image, 'app', 'app', cache);
    const second = await collectImageSbom(image, 'app', 'app', cache);
    // The first cached run reads the layer; the second does not.
    expect(reads()).toBe(before + 1);
    expect([...store.keys()]).toEqual([osPackagesKey(image, image.layers)]);
    const docs = (s: typeof plain) => sbomDocuments(s, { tool: { name: 'lading', version: 't' } }).map((d) => d.bytes.toString('utf8'));
    expect(docs(second)).toEqual(docs(plain));
    expect(docs(first)).toEqual(docs(plain));
  });

  it('keys the list by the layers and the distro labels', async () => {
    const a = await createLayer({ entries: [{ type: 'file', path: '/etc/a', content: 'a' }] }, { tempDir: dir });
    const b = await createLayer({ entries: [{ type: 'file', path: '/etc/b', content: 'b' }] }, { tempDir: dir });
    const one = appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer: a });
    const two = appendLayers(one, { layer: b });
    expect(osPackagesKey(one, one.layers)).not.toBe(osPackagesKey(two, two.layers));
    expect(osPackagesKey(two, two.layers.slice(0, 1))).toBe(osPackagesKey(one, one.layers));
  });
});
