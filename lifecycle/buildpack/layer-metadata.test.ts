import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempTrees } from '../../test/support/temp-tree.js';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { layerExecEnv, layerToml, parseLayerMetadata, processBuildpackLayers, restoredLayerToml } from './layer-metadata.js';

const FILE = '/layers/acme_node/node.toml';
const trees = tempTrees('lading-layers-');
afterEach(() => trees.cleanup());
const layersDir = (files: Record<string, string>, layerDirs: string[] = []) => trees.create(files, layerDirs.map((d) => `${d}/bin`));

describe('buildpack.md: Layer Content Metadata (TOML)', () => {
  it('reads [types] and [metadata]', () => {
    const m = parseLayerMetadata('[types]\nlaunch = true\ncache = true\n[metadata]\nversion = "20.1.0"\nexec-env = ["test"]\n', FILE);
    expect(m).toEqual({ types: { launch: true, build: false, cache: true }, metadata: { version: '20.1.0', 'exec-env': ['test'] } });
    expect(layerExecEnv(m, FILE)).toEqual(['test']);
  });

  it('treats missing [types] as all false', () => {
    expect(parseLayerMetadata('[metadata]\nsha = "abc"\n', FILE).types).toEqual({ launch: false, build: false, cache: false });
    expect(parseLayerMetadata('', FILE)).toEqual({ types: { launch: false, build: false, cache: false }, metadata: {} });
  });

  it('ignores pre-0.6 top-level type flags, with a warning', () => {
    const warnings: string[] = [];
    const m = parseLayerMetadata('launch = true\n', FILE, (w) => warnings.push(w));
    expect(m.types.launch).toBe(false);
    expect(warnings).toEqual([`${FILE}: top-level launch ignored; layer types belong in the [types] table`]);
  });

  it('names file and line for malformed TOML and the key for a non-boolean type', () => {
    expect(() => parseLayerMetadata('[types]\nlaunch = yes\n', FILE)).toThrow(expect.objectContaining({ code: 'BUILD', message: expect.stringMatching(/^\/layers\/acme_node\/node\.toml:2: invalid TOML/) }));
    expect(() => parseLayerMetadata('[types]\nlaunch = "true"\n', FILE)).toThrow(`${FILE}: types.launch must be true or false`);
  });

  it('writes restored layer metadata without [types] (Reusing Layers)', () => {
    const restored = restoredLayerToml({ version: '20.1.0', nested: { sha: 'abc' } });
    expect(parse(restored)).toEqual({ metadata: { version: '20.1.0', nested: { sha: 'abc' } } });
    expect(restored).not.toContain('types');
    expect(parseLayerMetadata(restored, FILE).types).toEqual({ launch: false, build: false, cache: false });
    expect(restoredLayerToml({})).toBe('');
  });

  it('writes a layer TOML with types for the image metadata', () => {
    expect(parse(layerToml({ types: { launch: true, build: false, cache: true }, metadata: { a: 1 } }))).toEqual({
      types: { launch: true, build: false, cache: true },
      metadata: { a: 1 },
    });
  });
});

describe('buildpack.md: Layer Types and Ignored Layers', () => {
  const combos = [
    [true, true, true],
    [true, true, false],
    [true, false, true],
    [true, false, false],
    [false, true, true],
    [false, true, false],
    [false, false, true],
    [false, false, false],
  ] as const;

  it.each(combos)('build=%s cache=%s launch=%s: types read, directory renamed .ignore only when all are false', async (build, cache, launch) => {
    const dir = await layersDir({ 'l.toml': `[types]\nbuild = ${build}\ncache = ${cache}\nlaunch = ${launch}\n` }, ['l']);
    const [layer] = await processBuildpackLayers(dir);
    expect(layer).toMatchObject({ name: 'l', dir: join(dir, 'l'), hasDir: true, types: { build, cache, launch } });
    const names = (await readdir(dir)).sort();
    expect(names).toEqual(!build && !cache && !launch ? ['l.ignore', 'l.toml'] : ['l', 'l.toml']);
  });

  it('lists layers by name, skips launch/build/store.toml and notes layers without a directory', async () => {
    const dir = await layersDir(
      {
        'b.toml': '[types]\nlaunch = true\n',
        'a.toml': '[types]\nbuild = true\n',
        'launch.toml': '[[processes]]\ntype = "web"\ncommand = ["x"]\n',
        'build.toml': '',
        'store.toml': '[metadata]\nx = 1\n',
      },
      ['a'],
    );
    const layers = await processBuildpackLayers(dir);
    expect(layers.map((l) => [l.name, l.hasDir])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  });

  it('replaces a stale .ignore directory', async () => {
    const dir = await layersDir({ 'tmp.toml': '' }, ['tmp', 'tmp.ignore']);
    await processBuildpackLayers(dir);
    expect((await readdir(join(dir, 'tmp.ignore'))).sort()).toEqual(['bin']);
    expect((await readdir(dir)).sort()).toEqual(['tmp.ignore', 'tmp.toml']);
  });

  it.each(['build', 'launch', 'store'])('refuses a layer directory named %s', async (name) => {
    const dir = await layersDir({}, [name]);
    await expect(processBuildpackLayers(dir)).rejects.toThrow(
      expect.objectContaining({ code: 'BUILD', message: `${join(dir, name)}: layer name "${name}" is reserved (build, launch and store cannot be layer names)` }),
    );
  });

  it('a missing layers directory has no layers', async () => {
    expect(await processBuildpackLayers(join(tmpdir(), 'lading-no-such-dir'))).toEqual([]);
  });
});
