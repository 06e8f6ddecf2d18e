import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectError, filterHostEnv, loadBuildpackCatalog, parseGroupToml, parsePlanToml, type BuildpackCatalog } from '../buildpack/index.js';
import { availableIsolation, type Isolation } from '../isolation/index.js';
import { exitCodeFor, platformFeatures } from '../platform/index.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { requireTools } from '../../test/support/tools.js';
import { orderOfBuildpacks, runDetector, type DetectorInputs } from './detector.js';

const FIXTURES = resolve(import.meta.dirname, '../../test/fixtures/buildpacks/bash');
const HAVE_TOOLS = requireTools('bwrap');
const trees = tempTrees('lading-detector-');
let catalog: BuildpackCatalog;
let isolation: Isolation;
beforeAll(async () => {
  catalog = await loadBuildpackCatalog([FIXTURES]);
  if (HAVE_TOOLS) isolation = await availableIsolation();
});
afterAll(() => trees.cleanup());

const host = { HOME: '/home/dev', PATH: '/usr/bin:/bin', CNB_REGISTRY_AUTH: '{"r":"Basic x"}', DOCKER_CONFIG: '/home/dev/.docker' };
const parse = (out: string) => Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

async function inputs(extra: Partial<DetectorInputs>): Promise<DetectorInputs & { layersDir: string }> {
  const root = await trees.create({ 'app/needs-runtime': '18', 'platform/env/BP_GREETING': 'from the platform dir' }, ['layers']);
  return {
    order: [],
    catalog,
    appDir: join(root, 'app'),
    platformDir: join(root, 'platform'),
    layersDir: join(root, 'layers'),
    features: platformFeatures('0.15'),
    isolation,
    env: filterHostEnv(host),
    target: { os: 'linux', arch: 'amd64' },
    ...extra,
  };
}

describe.skipIf(!HAVE_TOOLS)('buildpack.md Phase #1: Detection — the detector runs /bin/detect in the private namespace', () => {
  it('Detection: /bin/detect sees /workspace, /platform and its /cnb/buildpacks dir; CNB_* by API; no credentials', async () => {
    const input = await inputs({ order: orderOfBuildpacks([{ id: 'fixtures/env-reporter' }]) });
    const result = await runDetector(input);
    const seen = parse(result.runs[0]!.output);
    expect(seen).toMatchObject({
      ARG0: '/cnb/buildpacks/fixtures_env-reporter/0.1.0/bin/detect',
      ARG1: '/platform',
      PWD: '/workspace',
      CNB_BUILDPACK_DIR: '/cnb/buildpacks/fixtures_env-reporter/0.1.0',
      CNB_PLATFORM_DIR: '/platform',
      CNB_TARGET_OS: 'linux',
      CNB_EXEC_ENV: 'production',
      BP_GREETING: 'from the platform dir',
      PLATFORM_FILE: 'from the platform dir',
      CNB_REGISTRY_AUTH: '<unset>',
    });
    expect(seen['ARG2']).toBe(seen['CNB_BUILD_PLAN_PATH']);
  });

  it('platform.md detector outputs: group.toml and plan.toml from a composite order, written to the layers dir', async () => {
    const input = await inputs({ order: [[{ id: 'fixtures/composite', optional: false }]] });
    const result = await runDetector(input);
    expect(result.group.map((m) => `${m.id}@${m.version}`)).toEqual(['fixtures/provider@1.0.0', 'fixtures/consumer@1.0.0']);
    expect(await readFile(join(input.layersDir, 'group.toml'), 'utf8')).toBe(result.groupToml);
    expect(await readFile(join(input.layersDir, 'plan.toml'), 'utf8')).toBe(result.planToml);
    expect(parseGroupToml(result.groupToml, 'group.toml')).toEqual(result.group);
    expect(parsePlanToml(result.planToml, 'plan.toml')).toEqual([
      { providers: [{ id: 'fixtures/provider', version: '1.0.0' }], requires: [{ name: 'runtime', metadata: { version: '18', launch: true } }] },
    ]);
    // The provider reports the app dir it looked in: the image path, not the host's.
    expect(result.runs.find((r) => r.id === 'fixtures/provider')?.output).toBe('provider: looking for needs-runtime in /workspace\n');
  });

  it('Order Resolution: no group passes → DetectError with every output (exit 20 / 21)', async () => {
    const failing = await runDetector(await inputs({ order: orderOfBuildpacks([{ id: 'fixtures/failing', version: '0.1.0' }]) })).catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(DetectError);
    expect(exitCodeFor(failing)).toBe(20);
    expect((failing as DetectError).runs.map((r) => r.output)).toEqual(['failing: nothing for me here\n']);
    const erroring = await runDetector(await inputs({ order: orderOfBuildpacks([{ id: 'fixtures/erroring' }]) })).catch((e: unknown) => e);
    expect(exitCodeFor(erroring)).toBe(21);
    expect((erroring as DetectError).runs[0]!.output).toBe('erroring: cannot read config\n');
  });

  it('Buildpack API features: CNB_EXEC_ENV only when the platform has exec-env', async () => {
    const input = await inputs({ order: orderOfBuildpacks([{ id: 'fixtures/env-reporter' }]), features: platformFeatures('0.14') });
    const seen = parse((await runDetector(input)).runs[0]!.output);
    expect(seen['CNB_EXEC_ENV']).toBe('<unset>');
    expect(seen['CNB_TARGET_OS']).toBe('linux');
  });
});

describe('orderOfBuildpacks (-b)', () => {
  it('one group, every buildpack required, versions kept when given', () => {
    expect(orderOfBuildpacks([{ id: 'a/b', version: '1.0.0' }, { id: 'c' }])).toEqual([[{ id: 'a/b', version: '1.0.0', optional: false }, { id: 'c', optional: false }]]);
  });
});
