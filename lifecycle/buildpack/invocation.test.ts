import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuildpackCatalog, type BuildpackCatalog } from './catalog.js';
import { buildInvocation, detectInvocation } from './invocation.js';
import { launchEnvFor, readLayerEnv, type BuildpackLayerEnv } from './layer-env.js';
import { processBuildpackLayers } from './layer-metadata.js';
import { parseLaunchToml } from './launch-toml.js';
import { buildpackPlanFor, buildpackPlanToml } from './plan-files.js';
import { classifySbomFiles, escapeBuildpackId, listSbomFileNames } from './sbom-files.js';

const FIXTURES = resolve(import.meta.dirname, '../../test/fixtures/buildpacks/bash');
let catalog: BuildpackCatalog;
let root: string;
beforeAll(async () => {
  catalog = await loadBuildpackCatalog([FIXTURES]);
  root = await mkdtemp(join(tmpdir(), 'lading-invocation-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('buildpack.md: Build — inputs of /bin/build', () => {
  it('passes <layers> <platform> <plan> and the CNB_* variables; user env unless clear-env', () => {
    const input = { appDir: '/workspace', platformDir: '/platform', layersDir: '/layers/x', planPath: '/tmp/plan.toml', base: { HOME: '/h', PATH: '/usr/bin' }, earlier: [], platformEnv: { BP_X: 'u', PATH: '/u/bin' } };
    const inv = buildInvocation(catalog.findBuildpack('fixtures/consumer'), input);
    expect(inv).toEqual({
      file: join(FIXTURES, 'consumer', 'bin', 'build'),
      args: ['/layers/x', '/platform', '/tmp/plan.toml'],
      cwd: '/workspace',
      env: {
        HOME: '/h',
        PATH: '/u/bin:/usr/bin',
        BP_X: 'u',
        CNB_LAYERS_DIR: '/layers/x',
        CNB_BP_PLAN_PATH: '/tmp/plan.toml',
        CNB_BUILDPACK_DIR: join(FIXTURES, 'consumer'),
        CNB_PLATFORM_DIR: '/platform',
      },
    });
    const cleared = buildInvocation(catalog.findBuildpack('fixtures/clear-env'), input);
    expect(cleared.env['BP_X']).toBeUndefined();
    expect(cleared.env['PATH']).toBe('/usr/bin');
  });

  it('detect gets <platform> <plan> and CNB_BUILD_PLAN_PATH, not the build variables', () => {
    const inv = detectInvocation(catalog.findBuildpack('fixtures/provider'), { appDir: '/workspace', platformDir: '/platform', env: { HOME: '/h' }, planPath: '/tmp/p.toml' });
    expect(inv.args).toEqual(['/platform', '/tmp/p.toml']);
    expect(inv.env).toEqual({ HOME: '/h', CNB_BUILDPACK_DIR: join(FIXTURES, 'provider'), CNB_PLATFORM_DIR: '/platform', CNB_BUILD_PLAN_PATH: '/tmp/p.toml' });
  });
});

describe('buildpack.md: Build — a later buildpack sees the earlier one’s build layers (bash buildpacks)', () => {
  it('provider builds a runtime layer; consumer finds it on PATH; the launch env of web is resolved without a launcher', async () => {
    const app = join(root, 'app');
    const platform = join(root, 'platform');
    const layers = join(root, 'layers');
    await mkdir(app, { recursive: true });
    await mkdir(platform, { recursive: true });
    const plan = [{ providers: [{ id: 'fixtures/provider', version: '1.0.0' }], requires: [{ name: 'runtime', metadata: { version: '18' } }] }];
    const base = { HOME: root, PATH: '/usr/bin:/bin' };
    const earlier: BuildpackLayerEnv[] = [];
    const launchLayers: BuildpackLayerEnv[] = [];
    const launchTomls = [];
    for (const id of ['fixtures/provider', 'fixtures/consumer']) {
      const bp = catalog.findBuildpack(id);
      const bpLayers = join(layers, escapeBuildpackId(id));
      await mkdir(bpLayers, { recursive: true });
      const planPath = join(root, `${escapeBuildpackId(id)}-plan.toml`);
      await writeFile(planPath, buildpackPlanToml(buildpackPlanFor(plan, id)));
      const inv = buildInvocation(bp, { appDir: app, platformDir: platform, layersDir: bpLayers, planPath, base, earlier, platformEnv: {} });
      const run = await execa(inv.file, inv.args, { cwd: inv.cwd, env: inv.env, extendEnv: false, reject: false, all: true });
      expect(run.all).toBe('');
      expect(run.exitCode).toBe(0);
      const produced = await processBuildpackLayers(bpLayers);
      const sboms = classifySbomFiles(bpLayers, await listSbomFileNames(bpLayers), new Map(produced.map((l) => [l.name, l.types])), bp.info);
      if (id === 'fixtures/provider') {
        expect(produced.map((l) => [l.name, l.types, l.metadata])).toEqual([['runtime', { build: true, launch: true, cache: true }, { version: '1.2.3' }]]);
        expect(sboms.map((s) => `${s.layer}:${s.scope}`)).toEqual(['runtime:launch', 'runtime:cache']);
      }
      const envSources = await Promise.all(produced.map((l) => readLayerEnv(l.dir, l.name)));
      earlier.push({ buildpackId: id, layers: envSources.filter((_, i) => produced[i]!.types.build) });
      launchLayers.push({ buildpackId: id, layers: envSources.filter((_, i) => produced[i]!.types.launch) });
      const launchFile = join(bpLayers, 'launch.toml');
      const text = await readFile(launchFile, 'utf8').catch(() => undefined);
      if (text !== undefined) launchTomls.push(parseLaunchToml(text, launchFile));
    }
    expect(launchTomls[0]?.processes).toEqual([{ type: 'web', command: ['runtime', 'serve'], args: ['--port', '8080'], default: true }]);
    const runtimeLayer = join(layers, 'fixtures_provider', 'runtime');
    expect(launchEnvFor({ PATH: '/usr/bin:/bin' }, launchLayers, 'web')).toEqual({
      PATH: `${runtimeLayer}/bin:/usr/bin:/bin`,
      RUNTIME_HOME: runtimeLayer,
      RUNTIME_ENV: 'production',
    });
  });
});
