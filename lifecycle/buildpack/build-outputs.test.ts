import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempTrees } from '../../test/support/temp-tree.js';
import { afterEach, describe, expect, it } from 'vitest';
import { readBuildOutputs } from './build-outputs.js';
import { parseBuildpackDescriptor } from './descriptor.js';

const bp = parseBuildpackDescriptor(
  'api = "0.12"\n[buildpack]\nid = "acme/node"\nversion = "1.0.0"\nsbom-formats = ["application/vnd.cyclonedx+json"]\n',
  '/bp/buildpack.toml',
  '/bp',
);
const plan = [{ name: 'node', metadata: {} }, { name: 'npm', metadata: {} }];
const trees = tempTrees('lading-layers-');
afterEach(() => trees.cleanup());
const layersDir = (files: Record<string, string>, layerDirs: string[] = []) => trees.create(files, layerDirs);

describe('buildpack.md: Phase #5: Build — outputs of one buildpack', () => {
  it('reads layers, launch.toml, build.toml unmet, store.toml and SBOMs together', async () => {
    const dir = await layersDir(
      {
        'node.toml': '[types]\nlaunch = true\n[metadata]\nv = "20"\n',
        'scratch.toml': '',
        'node.sbom.cdx.json': '{}',
        'launch.toml': '[[processes]]\ntype = "web"\ncommand = ["node", "server.js"]\ndefault = true\n',
        'build.toml': '[[unmet]]\nname = "npm"\n',
        'store.toml': '[metadata]\nruns = 2\n',
      },
      ['node', 'scratch'],
    );
    const out = await readBuildOutputs(dir, bp, plan);
    expect(out.layers.map((l) => [l.name, l.types.launch])).toEqual([
      ['node', true],
      ['scratch', false],
    ]);
    expect((await readdir(dir)).filter((n) => n.startsWith('scratch')).sort()).toEqual(['scratch.ignore', 'scratch.toml']);
    expect(out.launch.processes.map((p) => p.type)).toEqual(['web']);
    expect(out.unmet).toEqual(['npm']);
    expect(out.store).toEqual({ runs: 2 });
    expect(out.sboms.map((s) => `${s.layer}:${s.scope}`)).toEqual(['node:launch']);
  });

  it('a buildpack that wrote nothing has empty outputs', async () => {
    expect(await readBuildOutputs(await layersDir({}), bp, [])).toEqual({ layers: [], launch: { labels: [], processes: [], slices: [] }, unmet: [], sboms: [] });
  });

  it('refuses an unmet name that is not in the plan, and an undeclared SBOM type', async () => {
    const unmet = await layersDir({ 'build.toml': '[[unmet]]\nname = "python"\n' });
    await expect(readBuildOutputs(unmet, bp, plan)).rejects.toThrow(`${join(unmet, 'build.toml')}: unmet entry "python" does not match any entry of the buildpack plan`);
    const sbom = await layersDir({ 'launch.sbom.spdx.json': '{}' });
    await expect(readBuildOutputs(sbom, bp, plan)).rejects.toThrow(expect.objectContaining({ code: 'BUILD', message: expect.stringContaining('launch.sbom.spdx.json: SBOM media type application/spdx+json is not declared') }));
  });
});
