import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detectPass, type BuildContext, type BuildResult, type DetectContext, type DetectResult } from '../index.js';

/** Fixture buildpack "sbom-writer": CycloneDX and SPDX SBOMs for a launch layer and for launch.sbom. */
export async function detect(_ctx: DetectContext): Promise<DetectResult> {
  return detectPass();
}

export async function build(ctx: BuildContext): Promise<BuildResult> {
  const layer = await ctx.layers.layer('runtime', { launch: true });
  await layer.reset();
  await writeFile(join(layer.path, 'runtime.txt'), 'a runtime\n');
  await layer.writeSbom([
    {
      name: 'zlib',
      version: '1.3.1',
      purl: 'pkg:generic/zlib@1.3.1',
      licenses: ['Zlib'],
      hashes: { sha256: 'b'.repeat(64) },
    },
    {
      name: 'node',
      version: '20.11.1',
      purl: 'pkg:generic/node@20.11.1',
      cpe: 'cpe:2.3:a:nodejs:node.js:20.11.1:*:*:*:*:*:*:*',
      licenses: ['MIT'],
      hashes: { sha256: 'a'.repeat(64), sha512: 'c'.repeat(128) },
    },
    { name: '@scope/odd', version: '0.1.0', purl: 'pkg:npm/%40scope/odd@0.1.0', licenses: ['SEE LICENSE IN LICENSE.md', '(MIT OR Apache-2.0)'] },
  ]);
  await ctx.layers.writeSbom('launch', [{ name: 'app-dep', version: '2.0.0', purl: 'pkg:npm/app-dep@2.0.0', licenses: ['ISC'] }]);
  return { processes: [{ type: 'web', command: ['cat', join(layer.path, 'runtime.txt')], default: true }] };
}
