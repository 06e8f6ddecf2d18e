import { describe, expect, it } from 'vitest';
import { createLayer } from '../../registry/layers/index.js';
import { appendLayers, emptyImage, withConfig } from '../../registry/mutate/index.js';
import { LIFECYCLE_METADATA_LABEL, serializeLifecycleMetadata } from '../platform/index.js';
import { rebaseApp } from './rebaser.js';

async function runImage(content: string, labels: Record<string, string>) {
  const layer = await createLayer({ entries: [{ type: 'file', path: '/etc/os', content }] });
  return withConfig(appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer }), { labels });
}

const base = { 'io.buildpacks.base.id': 'io.example.s', 'io.buildpacks.base.distro.name': 'debian', 'io.buildpacks.base.distro.version': '12' };

describe('rebaseApp', async () => {
  const v1 = await runImage('v1', { ...base, 'io.lading.stack.packages': '{"a":"1","b":"1"}' });
  const v2 = await runImage('v2', { ...base, 'io.lading.stack.packages': '{"a":"2","b":"1","c":"1"}' });
  const appLayer = await createLayer({ entries: [{ type: 'file', path: '/workspace/app', content: 'app' }] });
  const label = serializeLifecycleMetadata({
    app: [{ sha: appLayer.diffId }], buildpacks: [], config: { sha: '' }, launcher: { sha: '' }, processTypes: { sha: '' },
    runImage: { topLayer: v1.layers[0]!.diffId, reference: 'r@sha256:1', image: 'reg/run:v1' },
  });
  const app = withConfig(appendLayers(v1, { layer: appLayer }), { labels: { [LIFECYCLE_METADATA_LABEL]: label } });
  const input = { app, appName: 'app', runImage: v2, runImageName: 'reg/run:v2', runImageReference: 'reg/run@sha256:2' };

  it('swaps the run layers, keeps the app layer, warns about added packages (a/b/c)', () => {
    const out = rebaseApp(input);
    expect(out.image.layers.map((l) => l.digest)).toEqual([v2.layers[0]!.digest, appLayer.digest]);
    expect(out.addedPackages).toEqual(['c']);
    expect(out.metadata.runImage).toEqual({ topLayer: v2.layers[0]!.diffId, reference: 'reg/run@sha256:2', image: 'reg/run:v2' });
    expect(out.image.config.config?.Labels?.['io.lading.stack.packages']).toBe('{"a":"2","b":"1","c":"1"}');
  });

  it('refuses rebasable=false and another stack id without --force', () => {
    const locked = withConfig(app, { labels: { 'io.buildpacks.rebasable': 'false' } });
    expect(() => rebaseApp({ ...input, app: locked })).toThrow(/labelled io.buildpacks.rebasable=false.*--force/);
    expect(rebaseApp({ ...input, app: locked, force: true }).warnings.join()).toContain('forced');
    const foreign = withConfig(v2, { labels: { 'io.buildpacks.base.id': 'io.other' } });
    expect(() => rebaseApp({ ...input, runImage: foreign })).toThrow("the app's stack is io.example.s, the run image's io.other");
    expect(() => rebaseApp({ ...input, runImage: foreign, runImageName: 'reg/run:v1' })).not.toThrow();
  });

  it('refuses an image without the lifecycle label', () => {
    expect(() => rebaseApp({ ...input, app: v1 })).toThrow(expect.objectContaining({ code: 'REBASE' }));
  });
});
