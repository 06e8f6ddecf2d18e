import { afterEach, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { tempTrees } from '../../test/support/temp-tree.js';
import { BUILDPACK_LAYERS_LABEL, BUILDPACKAGE_METADATA_LABEL } from '../builder-image/index.js';
import { packageBuildpack, readPackageConfig } from './package.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BASH = join(ROOT, 'test/fixtures/buildpacks/bash');
const trees = tempTrees('lading-package-');
const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(disposers.splice(0).map((d) => d()));
  await trees.cleanup();
});

describe("package.toml (pack's format)", () => {
  it('reads [buildpack] uri and [[dependencies]] (dirs, .cnb files, images) relative to its directory', async () => {
    const dir = await trees.create({ 'package.toml': '[buildpack]\nuri = "bp"\n[[dependencies]]\nuri = "../dep"\n[[dependencies]]\nuri = "x.cnb"\n[[dependencies]]\nimage = "reg/bp:1"\n[[dependencies]]\nuri = "docker://reg/other:2"\n' });
    const c = await readPackageConfig(join(dir, 'package.toml'));
    expect(c.buildpack).toBe(join(dir, 'bp'));
    expect(c.dependencies).toEqual([
      { key: 'dependencies[0]', dir: resolve(dir, '../dep') },
      { key: 'dependencies[1]', archive: join(dir, 'x.cnb') },
      { key: 'dependencies[2]', image: 'reg/bp:1' },
      { key: 'dependencies[3]', image: 'docker://reg/other:2' },
    ]);
  });

  it('names the file and key of a mistake', async () => {
    const dir = await trees.create({ 'a.toml': '[[dependencies]]\nversion = "1"\n', 'b.toml': '[[dependencies]]\nuri = "https://x/bp.tgz"\n' });
    await expect(readPackageConfig(join(dir, 'a.toml'))).rejects.toThrow(`${join(dir, 'a.toml')}: dependencies[0] needs a uri or an image`);
    await expect(readPackageConfig(join(dir, 'b.toml'))).rejects.toThrow(/dependencies\[0\]\.uri "https:\/\/x\/bp\.tgz": use a directory/);
  });
});

describe('packageBuildpack', () => {
  it('a component: one layer, the distribution spec labels, the same digest twice', async () => {
    const make = async () => {
      const p = await packageBuildpack({ config: { buildpack: join(BASH, 'builder-marker'), dependencies: [] }, platform: { os: 'linux', architecture: 'amd64' } });
      disposers.push(p.dispose);
      return p;
    };
    const a = await make();
    const b = await make();
    expect(b.image.descriptor.digest).toBe(a.image.descriptor.digest);
    expect(a.image.layers).toHaveLength(1);
    const labels = a.image.config.config!.Labels!;
    expect(JSON.parse(labels[BUILDPACKAGE_METADATA_LABEL]!)).toEqual({ id: 'fixtures/builder-marker', version: '1.0.0', homepage: 'https://example.invalid/builder-marker', stacks: [{ id: '*' }], targets: [{ os: 'linux' }] });
    expect(JSON.parse(labels[BUILDPACK_LAYERS_LABEL]!)['fixtures/builder-marker']['1.0.0'].layerDiffID).toBe(a.image.layers[0]!.diffId);
  });
});
