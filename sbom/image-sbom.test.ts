import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLayer } from '../registry/layers/index.js';
import { appendLayers, emptyImage, withConfig } from '../registry/mutate/index.js';
import type { Layer } from '../registry/oci/index.js';
import { cnbSbomFiles, cnbSbomFilesOf, collectImageSbom, osPackagesKey, sbomDocuments, type Component, type OsPackagesCache } from './index.js';

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

describe('the CNB SBOM layer files given by the export that packed the layer', () => {
  it('are what reading the layer back finds, and make the same documents', async () => {
    const cdx = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ type: 'library', name: 'left-pad', version: '1.3.0', purl: 'pkg:npm/left-pad@1.3.0' }] });
    const spdx = JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'x', packages: [{ SPDXID: 'SPDXRef-a', name: 'left-pad', versionInfo: '1.3.0', externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/left-pad@1.3.0' }] }] });
    const files: [string, Buffer][] = [
      ['layers/sbom/launch/acme_node/modules/sbom.spdx.json', Buffer.from(spdx)],
      ['layers/sbom/launch/acme_node/modules/sbom.cdx.json', Buffer.from(cdx)],
      ['layers/sbom/launch/acme_node/sbom.cdx.json', Buffer.from(cdx)],
    ];
    const layer = await createLayer({ entries: files.map(([path, content]) => ({ type: 'file' as const, path: `/${path}`, content })) }, { tempDir: dir });
    const image = withConfig(appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer }), {
      labels: { 'io.buildpacks.lifecycle.metadata': JSON.stringify({ sbom: { sha: layer.diffId } }) },
    });
    const readBack = await cnbSbomFiles(image);
    const given = cnbSbomFilesOf(files);
    expect(given).toEqual(readBack);
    expect(given.map((f) => `${f.buildpack} ${f.layer ?? '-'} ${f.ext}`)).toEqual(['acme_node modules cdx.json', 'acme_node modules spdx.json', 'acme_node - cdx.json']);
    const docs = (s: Awaited<ReturnType<typeof collectImageSbom>>) => sbomDocuments(s, { tool: { name: 'lading', version: 't' } }).map((d) => d.bytes.toString('utf8'));
    const fromLayer = await collectImageSbom(image, 'app');
    expect(fromLayer.components.map((c) => c.name)).toContain('left-pad');
    expect(docs(await collectImageSbom(image, 'app', 'app', undefined, given))).toEqual(docs(fromLayer));
  });
});
