import { afterEach, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { tempTrees } from '../../test/support/temp-tree.js';
import { loadBuilderCatalog, parseBuilderConfig, readBuilderConfig } from './builder-config.js';

const SAMPLE = resolve(import.meta.dirname, '../../test/fixtures/builders/sample');
const trees = tempTrees('lading-builder-config-');
afterEach(() => trees.cleanup());

describe("builder.toml (pack's format)", () => {
  it('reads the sample builder: uris relative to its dir, an id-only entry, the order, [run] images, [build] image and env', async () => {
    const config = await readBuilderConfig(SAMPLE);
    expect(config.file).toBe(join(SAMPLE, 'builder.toml'));
    expect(config.buildpacks[0]).toEqual({ key: 'buildpacks[0]', dir: join(SAMPLE, 'buildpacks/hello') });
    expect(config.buildpacks[3]!.dir).toBe(resolve(SAMPLE, '../../buildpacks/bash/provider'));
    expect(config.buildpacks[5]).toEqual({ key: 'buildpacks[5]', id: 'sample/hello', version: '1.0.0' });
    expect(config.order).toEqual([
      [{ id: 'sample/family', optional: false }, { id: 'sample/hello', optional: false }, { id: 'sample/big', optional: true }],
      [{ id: 'sample/hello', optional: false }, { id: 'sample/big', optional: true }],
    ]);
    expect(config.runImages).toEqual([{ image: 'lading-test/run-base:latest', mirrors: ['127.0.0.1:1/mirror/run-base:latest'] }]);
    expect(config.buildImage).toBe('lading-test/build-base:latest');
    expect(config.buildEnv.map(({ name, action, value }) => ({ name, action, value }))).toEqual([
      { name: 'BP_GREETING', action: 'default', value: 'hello from the builder' },
      { name: 'BP_FLAGS', action: 'delim', value: ' ' },
      { name: 'BP_FLAGS', action: 'append', value: '-builder' },
    ]);
  });

  it('loads its buildpacks as a catalog in which the composite resolves', async () => {
    const catalog = await loadBuilderCatalog(await readBuilderConfig(SAMPLE));
    expect(catalog.findBuildpack('sample/family').kind).toBe('composite');
    expect(catalog.findBuildpack('fixtures/consumer', '1.0.0').info.id).toBe('fixtures/consumer');
  });

  it('reads the legacy [stack] run-image and mirrors', () => {
    const c = parseBuilderConfig('[stack]\nid = "x"\nrun-image = "run:1"\nrun-image-mirrors = ["m/run:1"]\nbuild-image = "build:1"\n', '/b/builder.toml', '/b');
    expect(c.runImages).toEqual([{ image: 'run:1', mirrors: ['m/run:1'] }]);
    expect(c.buildImage).toBe('build:1');
  });

  it('drops [[build.env]] entries for other execution environments', () => {
    const c = parseBuilderConfig('[[build.env]]\nname = "A"\nvalue = "1"\nexec-env = ["test"]\n\n[[build.env]]\nname = "B"\nvalue = "2"\nexec-env = ["production"]\n', '/b/builder.toml', '/b');
    expect(c.buildEnv.map((e) => e.name)).toEqual(['B']);
  });

  it.each([
    ['[[buildpacks]]\nuri = 3\n', /\/b\/builder.toml: buildpacks\[0\]\.uri must be a string/],
    ['[[buildpacks]]\nversion = "1"\n', /builder.toml: buildpacks\[0\] needs a uri/],
    ['[[order]]\n[[order.group]]\nversion = "1"\n', /builder.toml: order\[0\]\.group\[0\]\.id is required/],
    ['[[build.env]]\nname = "A"\nsuffix = "sideways"\n', /build\.env\[0\]\.suffix "sideways"/],
    ['[run]\n[[run.images]]\nmirrors = []\n', /run\.images\[0\]\.image is required/],
    ['[build\n', /\/b\/builder.toml:1: invalid TOML/],
  ])('names the file and key of a mistake: %j', (text, message) => {
    expect(() => parseBuilderConfig(text, '/b/builder.toml', '/b')).toThrow(message);
  });

  it('reads buildpackages: .cnb files, image = and docker:// / oci: uris; tarballs and other schemes are UNSUPPORTED', () => {
    const c = parseBuilderConfig('[[buildpacks]]\nuri = "bp.cnb"\n[[buildpacks]]\nuri = "docker://example/bp:1"\n[[buildpacks]]\nimage = "example/bp:2"\n[[buildpacks]]\nuri = "oci:/x/layout:bp"\n', '/b/builder.toml', '/b');
    expect(c.buildpacks).toEqual([
      { key: 'buildpacks[0]', archive: '/b/bp.cnb' },
      { key: 'buildpacks[1]', image: 'docker://example/bp:1' },
      { key: 'buildpacks[2]', image: 'example/bp:2' },
      { key: 'buildpacks[3]', image: 'oci:/x/layout:bp' },
    ]);
    expect(() => parseBuilderConfig('[[buildpacks]]\nuri = "https://example/bp"\n', '/b/builder.toml', '/b')).toThrow(/no https: URIs/);
    expect(() => parseBuilderConfig('[[buildpacks]]\nuri = "bp.tgz"\n', '/b/builder.toml', '/b')).toThrow(/tarballs are not supported/);
    expect(() => parseBuilderConfig('[[buildpacks]]\nuri = "a"\nimage = "b"\n', '/b/builder.toml', '/b')).toThrow(/buildpacks\[0\] has both a uri and an image/);
  });

  it('reads system buildpacks ([[system.pre.buildpacks]], [[system.post.buildpacks]])', () => {
    const c = parseBuilderConfig('[[system.pre.buildpacks]]\nid = "a/pre"\nversion = "1.0.0"\n[[system.post.buildpacks]]\nid = "a/post"\noptional = true\n', '/b/builder.toml', '/b');
    expect(c.system).toEqual({ pre: [{ id: 'a/pre', version: '1.0.0', optional: false }], post: [{ id: 'a/post', optional: true }] });
  });

  it('a builder directory with a buildpackage entry is UNSUPPORTED for -B DIR, pointing to lading builder create', async () => {
    const dir = await trees.create({ 'builder.toml': '[[buildpacks]]\nuri = "bp.cnb"\n' });
    await expect(loadBuilderCatalog(await readBuilderConfig(dir))).rejects.toThrow(/lading builder create/);
  });

  it('names the entry whose uri does not exist, and an order entry no buildpack provides', async () => {
    const dir = await trees.create({ 'builder.toml': '[[buildpacks]]\nuri = "missing"\n' });
    await expect(loadBuilderCatalog(await readBuilderConfig(dir))).rejects.toThrow(`${join(dir, 'builder.toml')}: buildpacks[0].uri: buildpack directory ${join(dir, 'missing')} does not exist`);
    const other = await trees.create({ 'builder.toml': `[[buildpacks]]\nuri = "${join(SAMPLE, 'buildpacks/hello')}"\n\n[[order]]\n[[order.group]]\nid = "not/there"\n` });
    await expect(loadBuilderCatalog(await readBuilderConfig(other))).rejects.toThrow(/order\[0\]\.group\[0\]: buildpack not\/there not found/);
  });

  it('a builder path that does not exist is NOT_FOUND', async () => {
    await expect(readBuilderConfig('/no/such/builder')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
