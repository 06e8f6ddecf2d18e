import { describe, expect, it } from 'vitest';
import { appendLayers, emptyImage, rebase, withConfig, withCreated, NORMALIZED_TIME } from './mutate.js';
import { validateImage } from '../image/index.js';
import { MediaType } from '../oci/index.js';
import { bufferLayer, randomImage, tarOf } from '../../test/support/random-image.js';

describe('mutate', () => {
  it('appends layers to scratch with history, reproducibly', async () => {
    const layer = bufferLayer(await tarOf({ 'app/hello.txt': 'hi' }));
    const a = appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer, history: { created_by: 'app' } });
    const b = appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer, history: { created_by: 'app' } });
    expect(a.descriptor.digest).toBe(b.descriptor.digest);
    expect(a.config.rootfs.diff_ids).toEqual([layer.diffId]);
    expect(a.config.history).toEqual([{ created: NORMALIZED_TIME, created_by: 'app' }]);
    await validateImage(a);
  });

  it('writes OCI manifests on top of Docker schema2 bases without changing layer digests', async () => {
    const base = await randomImage({ layers: 2, docker: true });
    const out = withConfig(base, { user: '1000:1000' });
    expect(out.descriptor.mediaType).toBe(MediaType.OciManifest);
    expect(out.manifest.config.mediaType).toBe(MediaType.OciConfig);
    expect(out.layers.map((l) => l.digest)).toEqual(base.layers.map((l) => l.digest));
    expect(out.layers.every((l) => l.mediaType === MediaType.OciLayerGzip)).toBe(true);
    await validateImage(out);
  });

  it('merges and removes labels, sets entrypoint/env/workdir', async () => {
    const base = await randomImage({ layers: 1, labels: { keep: '1', drop: '2' } });
    const out = withConfig(base, { labels: { drop: null, add: '3' }, entrypoint: ['/bin/app'], env: ['A=b'], workingDir: '/workspace' });
    expect(out.config.config?.Labels).toEqual({ keep: '1', add: '3' });
    expect(out.config.config?.Entrypoint).toEqual(['/bin/app']);
    expect(out.config.config?.WorkingDir).toBe('/workspace');
    expect(base.config.config?.Labels).toEqual({ keep: '1', drop: '2' });
    await validateImage(out);
  });

  it('sets created', async () => {
    const out = withCreated(await randomImage(), '2024-01-01T00:00:00Z', { history: true });
    expect(out.config.created).toBe('2024-01-01T00:00:00Z');
    expect(out.config.history?.every((h) => h.created === '2024-01-01T00:00:00Z')).toBe(true);
  });

  it('rebases: swaps base layers, keeps the app layers byte-identical', async () => {
    const v1 = await randomImage({ layers: 2 });
    const v2 = await randomImage({ layers: 3 });
    const appLayer = bufferLayer(await tarOf({ 'workspace/app.js': 'console.log(1)' }));
    const app = appendLayers(v1, { layer: appLayer, history: { created_by: 'Application Layer' } });
    const rebased = rebase(app, v1.layers[1]!.diffId, v2);
    expect(rebased.layers.map((l) => l.digest)).toEqual([...v2.layers.map((l) => l.digest), appLayer.digest]);
    expect(rebased.config.history?.at(-1)?.created_by).toBe('Application Layer');
    expect(rebase(app, v1.layers[1]!.diffId, v2).descriptor.digest).toBe(rebased.descriptor.digest);
    await validateImage(rebased);
    expect(() => rebase(app, v2.layers[0]!.diffId, v2)).toThrow(/no layer with diffID/);
  });
});
