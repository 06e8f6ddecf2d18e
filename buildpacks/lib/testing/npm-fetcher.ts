import { join } from 'node:path';
import {
  contributeLayer,
  detectPass,
  extractTarGz,
  fetchCached,
  NpmSource,
  resolveVersion,
  selectVersionRequest,
  type BuildContext,
  type BuildResult,
  type DetectContext,
  type DetectResult,
} from '../index.js';

/**
 * Fixture buildpack "npm-fetcher": resolves `is-number` from the user's npm registry (BP_IS_NUMBER_VERSION >
 * default ^7), downloads it through the cached-download layer, unpacks it into a launch layer and writes its SBOM.
 */
export async function detect(_ctx: DetectContext): Promise<DetectResult> {
  return detectPass();
}

export async function build(ctx: BuildContext): Promise<BuildResult> {
  const source = await NpmSource.fromUserConfig({ env: ctx.env, projectDir: ctx.appDir });
  const request = selectVersionRequest([
    { constraint: ctx.config('BP_IS_NUMBER_VERSION') ?? '', source: 'BP_IS_NUMBER_VERSION' },
    { constraint: '^7', source: 'buildpack default' },
  ]);
  const version = resolveVersion('is-number', await source.versions('is-number'), request ?? { constraint: '*', source: 'any' });
  ctx.logger.info(`Resolved is-number ${version} (${request?.source})`);
  // declared on every build so the download stays in the cache even when the layer below is reused
  const dep = await fetchCached(ctx.layers, source, 'is-number', version, ctx.logger);
  const { layer } = await contributeLayer(
    ctx.layers,
    'is-number',
    {
      types: { launch: true },
      expected: { version, checksum: dep.checksum },
      build: async (l) => {
        await extractTarGz(dep.path, l.path, { stripComponents: 1 });
        await l.writeSbom([{ name: dep.name, version: dep.version, purl: dep.purl, licenses: dep.licenses, hashes: { sha256: dep.sha256 } }]);
      },
    },
    ctx.logger,
  );
  return { processes: [{ type: 'check', command: ['node', '-e', `console.log(require(${JSON.stringify(layer.path)})(5))`] }] };
}
