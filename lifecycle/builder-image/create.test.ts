import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeImage } from '../../registry/image/index.js';
import type { FileLayer } from '../../registry/layers/index.js';
import { openLayoutSink } from '../../registry/layout/index.js';
import { emptyImage, withConfig } from '../../registry/mutate/index.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { parseBuilderConfig } from '../platform/index.js';
import { createBuilder, resolveOrder, stackUser } from './create.js';
import { BUILDER_METADATA_LABEL, BUILDPACK_LAYERS_LABEL, BUILDPACK_ORDER_LABEL, LADING_BUILDER_LABEL } from './labels.js';
import { modulesFromDir, modulesFromImage, type BuildpackModule } from './modules.js';
import { moduleNeedsNode } from './node-layer.js';
import { openBuilderImage } from './open.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BASH = join(ROOT, 'test/fixtures/buildpacks/bash');
const SAMPLE = join(ROOT, 'test/fixtures/builders/sample/buildpacks');
const trees = tempTrees('lading-builder-image-');
const layers: FileLayer[] = [];
afterEach(async () => {
  await Promise.all(layers.splice(0).map((l) => l.dispose()));
  await trees.cleanup();
});

const buildImage = (env = ['PATH=/usr/bin:/bin', 'CNB_USER_ID=1000', 'CNB_GROUP_ID=1001']) =>
  withConfig(emptyImage({ os: 'linux', architecture: 'amd64' }), { env, labels: { 'io.buildpacks.base.distro.name': 'debian', 'io.buildpacks.base.distro.version': '12' } });

async function modules(...dirs: string[]): Promise<BuildpackModule[]> {
  const out: BuildpackModule[] = [];
  for (const d of dirs) out.push(...(await modulesFromDir(d, { created: layers })));
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

const TOML = `description = "unit"
[[order]]
[[order.group]]
id = "sample/family"
[[order.group]]
id = "fixtures/builder-marker"
optional = true
[[system.post.buildpacks]]
id = "fixtures/builder-marker"
[[build.env]]
name = "GREETING"
value = "hi"
[[run.images]]
image = "run:1"
mirrors = ["m/run:1"]
flavor = "base"
`;

describe('createBuilder', () => {
  it('writes pack\'s labels and layout, the same digest for the same inputs, and opens again as a builder', async () => {
    const config = parseBuilderConfig(TOML, '/b/builder.toml', '/b');
    const mods = await modules(join(SAMPLE, 'family'), join(BASH, 'provider'), join(BASH, 'consumer'), join(BASH, 'builder-marker'));
    const input = { config, buildImage: buildImage(), buildImageName: 'build:1', modules: mods, version: '0.0.0-test' };
    const a = await createBuilder(input);
    layers.push(...a.created);
    const b = await createBuilder({ ...input, modules: await modules(join(SAMPLE, 'family'), join(BASH, 'provider'), join(BASH, 'consumer'), join(BASH, 'builder-marker')) });
    layers.push(...b.created);
    expect(b.image.descriptor.digest).toBe(a.image.descriptor.digest);
    expect(a.node).toBe(false);
    expect(a.order).toEqual([[{ id: 'sample/family', version: '1.0.0', optional: false }, { id: 'fixtures/builder-marker', version: '1.0.0', optional: true }]]);
    const labels = a.image.config.config!.Labels!;
    expect(JSON.parse(labels[BUILDPACK_ORDER_LABEL]!)).toEqual([{ group: [{ id: 'sample/family', version: '1.0.0' }, { id: 'fixtures/builder-marker', version: '1.0.0', optional: true }] }]);
    expect(JSON.parse(labels[BUILDPACK_LAYERS_LABEL]!)['sample/family']['1.0.0'].order).toEqual([{ group: [{ id: 'fixtures/provider', version: '1.0.0' }, { id: 'fixtures/consumer', version: '1.0.0' }] }]);
    const meta = JSON.parse(labels[BUILDER_METADATA_LABEL]!);
    expect(meta.images).toEqual([{ image: 'run:1', mirrors: ['m/run:1'], flavor: 'base' }]);
    expect(meta.stack).toEqual({ runImage: { image: 'run:1', mirrors: ['m/run:1'] } });
    expect(JSON.parse(labels[LADING_BUILDER_LABEL]!).user).toEqual({ uid: 1000, gid: 1001 });
    // Build image layers (none here), one per buildpack, the config layer; modules keep their layers.
    expect(a.image.layers.map((l) => l.diffId)).toEqual([...mods.map((m) => m.layer.diffId), a.created.at(-1)!.diffId]);
    expect(modulesFromImage(a.image, 'builder').map((m) => `${m.id}@${m.version}`)).toEqual(mods.map((m) => `${m.id}@${m.version}`));

    const layout = await trees.create({});
    const sink = await openLayoutSink({ transport: 'oci', path: layout, tag: 'b' });
    await writeImage(sink, a.image);
    await sink.commit();
    const cacheDir = await trees.create({});
    const opened = await openBuilderImage(`oci:${layout}:b`, { cacheDir });
    try {
      expect(opened.config.order).toEqual([[{ id: 'sample/family', version: '1.0.0', optional: false }, { id: 'fixtures/builder-marker', version: '1.0.0', optional: true }]]);
      expect(opened.config.buildEnv.map((e) => [e.name, e.action, e.value])).toEqual([['GREETING', 'default', 'hi']]);
      expect(opened.config.runImages).toEqual([{ image: 'run:1', mirrors: ['m/run:1'], flavor: 'base' }]);
      const marker = opened.config.buildpacks.map((bp) => bp.dir!).find((d) => d.includes('fixtures_builder-marker'))!;
      expect(readFileSync(join(marker, 'buildpack.toml'), 'utf8')).toContain('fixtures/builder-marker');
    } finally {
      await opened.close();
    }
  });

  it('system buildpacks must be in the builder too; a missing [[order]] or run image is CONTENT_INVALID', async () => {
    const mods = await modules(join(BASH, 'builder-marker'));
    const input = { buildImage: buildImage(), buildImageName: 'build:1', modules: mods, version: '0' };
    const sys = parseBuilderConfig('[[order]]\n[[order.group]]\nid = "fixtures/builder-marker"\n[[system.pre.buildpacks]]\nid = "no/such"\n[[run.images]]\nimage = "r"\n', '/b/builder.toml', '/b');
    await expect(createBuilder({ ...input, config: sys })).rejects.toThrow(/builder\.toml: system\.pre\.buildpacks\[0\]: no buildpack has id no\/such/);
    const noOrder = parseBuilderConfig('[[run.images]]\nimage = "r"\n', '/b/builder.toml', '/b');
    await expect(createBuilder({ ...input, config: noOrder })).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: '/b/builder.toml: has no [[order]]' });
    const noRun = parseBuilderConfig('[[order]]\n[[order.group]]\nid = "fixtures/builder-marker"\n', '/b/builder.toml', '/b');
    await expect(createBuilder({ ...input, config: noRun })).rejects.toThrow(/has no \[\[run\.images\]\]/);
  });
});

describe('resolveOrder and stackUser', () => {
  it('resolves missing versions to the highest, refuses an unknown version and a composite whose parts are missing', async () => {
    const mods = await modules(join(SAMPLE, 'family'), join(BASH, 'provider'));
    expect(resolveOrder([[{ id: 'fixtures/provider', optional: false }]], mods, 'f', 'order')).toEqual([[{ id: 'fixtures/provider', version: '1.0.0', optional: false }]]);
    expect(() => resolveOrder([[{ id: 'fixtures/provider', version: '2.0.0', optional: false }]], mods, 'f', 'order')).toThrow('f: order[0].group[0]: buildpack fixtures/provider@2.0.0 is not in the builder (versions: 1.0.0)');
    expect(() => resolveOrder([[{ id: 'sample/family', optional: false }]], mods, 'f', 'order')).toThrow(/order\[0\]\.group\[0\] → sample\/family@1\.0\.0 order\[0\]\.group\[1\]: no buildpack has id fixtures\/consumer/);
  });

  it('CNB_USER_ID and CNB_GROUP_ID are required and numeric', () => {
    expect(stackUser(buildImage(), 'b')).toEqual({ uid: 1000, gid: 1001 });
    expect(() => stackUser(buildImage(['CNB_GROUP_ID=1']), 'b')).toThrow('build image b has no CNB_USER_ID in its config Env');
    expect(() => stackUser(buildImage(['CNB_USER_ID=cnb', 'CNB_GROUP_ID=1']), 'b')).toThrow('build image b: CNB_USER_ID=cnb is not a numeric id');
  });
});

describe('moduleNeedsNode', () => {
  it('is true for a buildpack started through a node shebang, false for bash and composites', async () => {
    const [node] = await modules(join(ROOT, 'test/fixtures/buildpacks/sdk/greeter'));
    const [bash] = await modules(join(BASH, 'builder-marker'));
    const [family] = await modules(join(SAMPLE, 'family'));
    expect(await moduleNeedsNode(node!)).toBe(true);
    expect(await moduleNeedsNode(bash!)).toBe(false);
    expect(await moduleNeedsNode(family!)).toBe(false);
  });

  it("is true for lading's own buildpacks, whose bin/build is a shell script that starts node after its replay check", async () => {
    const [ours] = await modules(join(ROOT, 'buildpacks/node'));
    expect(await moduleNeedsNode(ours!)).toBe(true);
  });
});
