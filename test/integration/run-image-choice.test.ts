import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFromSource, writeImage } from '../../registry/image/index.js';
import { createLayer } from '../../registry/layers/index.js';
import { appendLayers, emptyImage, withConfig } from '../../registry/mutate/index.js';
import type { Image } from '../../registry/oci/index.js';
import { openSink, openSource } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import { LIFECYCLE_METADATA_LABEL, parseLifecycleMetadata } from '../../lifecycle/platform/index.js';
import { lading } from '../support/cli.js';
import { runBase } from '../support/run-base.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FLAVOR_BP = join(ROOT, 'test/fixtures/buildpacks/bash/run-image-flavor');

interface BuildJson { digest: string; runImage: { image: string; reference: string } }

async function readImage(ref: string): Promise<Image> {
  const source = await openSource(parseReference(ref));
  try {
    return await imageFromSource(source, await source.resolve());
  } finally {
    await source.close();
  }
}

/**
 * Two small run images of one "stack" (the busybox test base plus an `/etc/flavor` file saying which it is), a
 * foreign-architecture static image, and builders naming them with lading's `flavor` key.
 */
describe.skipIf(!requireTools('umoci', 'runc', 'apt-get', 'dpkg-deb'))('run-image choice after build (io.lading.run-image)', () => {
  let dir: string;
  let layout: string;
  let app: string;
  const env = () => ({ LADING_HOME: join(dir, 'home'), SOURCE_DATE_EPOCH: undefined });
  const ref = (tag: string) => `oci:${layout}:${tag}`;

  function builderDir(name: string, runImages: { image: string; flavor?: string }[]): string {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    const run = runImages.map((r) => `[[run.images]]\nimage = "${r.image}"\n${r.flavor ? `flavor = "${r.flavor}"\n` : ''}`).join('\n');
    writeFileSync(join(d, 'builder.toml'), `[[buildpacks]]\nuri = "${FLAVOR_BP}"\n\n[[order]]\n[[order.group]]\nid = "fixtures/run-image-flavor"\n\n[run]\n${run}`);
    return d;
  }

  async function flavored(base: Image, flavor: string, arch?: string): Promise<void> {
    const layer = await createLayer({ entries: [{ type: 'file', path: '/etc/flavor', content: `${flavor}\n`, uid: 0, gid: 0 }] }, { tempDir: dir });
    const from = arch ? withConfig(emptyImage({ os: 'linux', architecture: arch }), { labels: base.config.config?.Labels ?? {} }) : base;
    const image = appendLayers(from, { layer });
    const sink = await openSink(parseReference(ref(arch ? `${flavor}-${arch}` : flavor)));
    await writeImage(sink, image);
    await sink.commit();
    await layer.dispose();
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-run-choice-'));
    layout = join(dir, 'run-images');
    app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'main.txt'), 'an app\n');
    const base = await readImage((await runBase()).reference);
    await flavored(base, 'base');
    await flavored(base, 'static');
    await flavored(base, 'static', process.arch === 'arm64' ? 'amd64' : 'arm64');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a buildpack that sets io.lading.run-image = "static" gets the builder\'s static run image; the image runs on it under runc', async () => {
    const b = builderDir('both', [{ image: ref('base'), flavor: 'base' }, { image: ref('static'), flavor: 'static' }]);
    const out = join(dir, 'out-static');
    const r = await lading(['build', `oci:${out}:app`, '-p', app, '-B', b, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Run image: ${ref('static')} (static: a buildpack set io.lading.run-image = "static")`);
    const json = r.json<BuildJson>();
    const staticImage = await readImage(ref('static'));
    expect(json.runImage).toEqual({ image: ref('static'), reference: `${ref('static')}@${staticImage.descriptor.digest}` });
    const built = await readImage(`oci:${out}:app`);
    // The run image's layers are the static image's, and the lifecycle label records it (so rebase keeps the flavor).
    expect(built.layers.slice(0, staticImage.layers.length).map((l) => l.diffId)).toEqual(staticImage.layers.map((l) => l.diffId));
    const meta = parseLifecycleMetadata(built.config.config!.Labels![LIFECYCLE_METADATA_LABEL]!, 'ANALYZE');
    expect(meta.runImage).toMatchObject({ image: ref('static'), topLayer: staticImage.layers.at(-1)!.diffId });
    expect(built.config.config?.Labels?.['io.lading.run-image']).toBe('static');
    const c = await runImage(out, 'app');
    try {
      for (let i = 0; i < 50 && !c.logs().includes('static'); i++) await new Promise((res) => setTimeout(res, 100));
      expect(c.logs().trim()).toBe('static');
    } finally {
      await c.stop();
    }
  });

  it('without the label (or with "base") the build exports onto the base image', async () => {
    const b = builderDir('both2', [{ image: ref('static'), flavor: 'static' }, { image: ref('base'), flavor: 'base' }]);
    const baseImage = await readImage(ref('base'));
    for (const flavor of ['none', 'base']) {
      const out = join(dir, `out-${flavor}`);
      const r = await lading(['build', `oci:${out}:app`, '-p', app, '-B', b, '-e', `RUN_IMAGE_FLAVOR=${flavor}`, '--json'], env());
      expect(r.code, r.stderr).toBe(0);
      expect(r.json<BuildJson>().runImage.image).toBe(ref('base'));
      const meta = parseLifecycleMetadata((await readImage(`oci:${out}:app`)).config.config!.Labels![LIFECYCLE_METADATA_LABEL]!, 'ANALYZE');
      expect(meta.runImage.topLayer).toBe(baseImage.layers.at(-1)!.diffId);
    }
  });

  it('--run-image always wins over the label', async () => {
    const b = builderDir('both3', [{ image: ref('base'), flavor: 'base' }, { image: ref('static'), flavor: 'static' }]);
    const r = await lading(['build', `oci:${join(dir, 'out-given')}:app`, '-p', app, '-B', b, '--run-image', ref('base'), '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<BuildJson>().runImage.image).toBe(ref('base'));
    expect(r.stderr).not.toContain('warning');
  });

  it('a builder without a static image: the label is warned about and the base image used', async () => {
    const b = builderDir('pack-style', [{ image: ref('base') }]);
    const r = await lading(['build', `oci:${join(dir, 'out-pack')}:app`, '-p', app, '-B', b, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<BuildJson>().runImage.image).toBe(ref('base'));
    expect(r.stderr).toMatch(/warning: a buildpack set io\.lading\.run-image = "static", but the builder names no static run image .*; using /);
  });

  it('a static image of another architecture than the one detect and build ran for: exit 32, nothing tagged', async () => {
    const other = process.arch === 'arm64' ? 'amd64' : 'arm64';
    const b = builderDir('foreign', [{ image: ref('base'), flavor: 'base' }, { image: ref(`static-${other}`), flavor: 'static' }]);
    const out = join(dir, 'out-foreign');
    const r = await lading(['build', `oci:${out}:app`, '-p', app, '-B', b], env());
    expect(r.code, r.stderr).toBe(32);
    expect(r.stderr).toMatch(new RegExp(`is linux/${other} debian 12, but the build ran for linux/\\w+ debian 12`));
    await expect(readImage(`oci:${out}:app`)).rejects.toThrow();
  });

  it('a label value other than static/base: exit 52 naming the label, nothing tagged', async () => {
    const b = builderDir('both4', [{ image: ref('base'), flavor: 'base' }, { image: ref('static'), flavor: 'static' }]);
    const out = join(dir, 'out-bad');
    const r = await lading(['build', `oci:${out}:app`, '-p', app, '-B', b, '-e', 'RUN_IMAGE_FLAVOR=tiny'], env());
    expect(r.code, r.stderr).toBe(52);
    expect(r.stderr).toContain('io.lading.run-image = "tiny": must be one of base, static');
    await expect(readImage(`oci:${out}:app`)).rejects.toThrow();
  });
});
