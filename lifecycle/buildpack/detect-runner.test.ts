import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuildpackCatalog, type BuildpackCatalog } from './catalog.js';
import { detect, DetectError } from './detect.js';
import { ProcessDetectRunner } from './detect-runner.js';
import { filterHostEnv } from './process-env.js';
import { readPlatformEnvDir } from './env-files.js';

const FIXTURES = resolve(import.meta.dirname, '../../test/fixtures/buildpacks/bash');
let catalog: BuildpackCatalog;
let root: string;
let app: string;
let platform: string;
const runner = new ProcessDetectRunner();

beforeAll(async () => {
  catalog = await loadBuildpackCatalog([FIXTURES]);
  root = await mkdtemp(join(tmpdir(), 'lading-detect-'));
  app = join(root, 'app');
  platform = join(root, 'platform');
  await mkdir(app);
  await mkdir(join(platform, 'env'), { recursive: true });
  await writeFile(join(app, 'needs-runtime'), '18');
  await writeFile(join(platform, 'env', 'BP_GREETING'), 'hello from the user');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const host = { HOME: '/home/dev', PATH: '/usr/local/bin:/usr/bin:/bin', NODE_EXTRA_CA_CERTS: '/etc/ca.pem', CNB_REGISTRY_AUTH: '{"r":"Basic x"}', SECRET_TOKEN: 's3cr3t' };
const opts = () => ({ source: catalog, runner, appDir: app, platformDir: platform, env: { ...filterHostEnv(host), CNB_TARGET_OS: 'linux', CNB_EXEC_ENV: 'production' } });
const parseOutput = (out: string) => Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

describe('buildpack.md: Detection — bash buildpacks run as processes', () => {
  it('passes args, env and working dir as the spec defines; never registry credentials', async () => {
    const result = await detect([[{ id: 'fixtures/env-reporter', optional: false }]], { ...opts(), platformEnv: await readPlatformEnvDir(join(platform, 'env')) });
    const seen = parseOutput(result.runs[0]!.output);
    const bpDir = join(FIXTURES, 'env-reporter');
    expect(seen).toMatchObject({
      ARG0: join(bpDir, 'bin', 'detect'),
      ARG1: platform,
      PWD: app,
      CNB_BUILDPACK_DIR: bpDir,
      CNB_PLATFORM_DIR: platform,
      CNB_TARGET_OS: 'linux',
      CNB_EXEC_ENV: 'production',
      HOME: '/home/dev',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      BP_GREETING: 'hello from the user',
      NODE_EXTRA_CA_CERTS: '/etc/ca.pem',
      CNB_REGISTRY_AUTH: '<unset>',
      SECRET_TOKEN: '<unset>',
      PLATFORM_FILE: 'hello from the user',
    });
    expect(seen['ARG2']).toBe(seen['CNB_BUILD_PLAN_PATH']);
    expect(seen['ARG2']).toMatch(/plan\.toml$/);
  });

  it('clear-env hides user variables but keeps the platform env files readable', async () => {
    const result = await detect([[{ id: 'fixtures/clear-env', optional: false }]], { ...opts(), platformEnv: { BP_GREETING: 'hello from the user' } });
    const seen = parseOutput(result.runs[0]!.output);
    expect(seen['BP_GREETING']).toBe('<unset>');
    expect(seen['PLATFORM_FILE']).toBe('hello from the user');
  });

  it('resolves a composite buildpack into provider + consumer with a plan from positional and env plan paths', async () => {
    const result = await detect([[{ id: 'fixtures/composite', optional: false }]], opts());
    expect(result.group.map((m) => `${m.id}@${m.version} api ${m.api}`)).toEqual(['fixtures/provider@1.0.0 api 0.12', 'fixtures/consumer@1.0.0 api 0.11']);
    expect(result.plan).toEqual([
      { providers: [{ id: 'fixtures/provider', version: '1.0.0' }], requires: [{ name: 'runtime', metadata: { version: '18', launch: true } }] },
    ]);
    expect(result.runs.find((r) => r.id === 'fixtures/provider')?.output).toBe(`provider: looking for needs-runtime in ${app}\n`);
  });

  it('uses an [[or]] alternative of a real buildpack', async () => {
    const result = await detect([[{ id: 'fixtures/either', optional: false }, { id: 'fixtures/consumer', optional: false }]], opts());
    expect(result.plan.map((e) => `${e.providers[0]!.id} → ${e.requires[0]!.name}`)).toEqual(['fixtures/either → runtime']);
  });

  it('exit 100 fails, other codes error: DETECT_ERRORED with the output kept for the user', async () => {
    let err: unknown;
    try {
      await detect([[{ id: 'fixtures/failing', optional: false }], [{ id: 'fixtures/erroring', optional: false }]], opts());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DetectError);
    const d = err as DetectError;
    expect(d.code).toBe('DETECT_ERRORED');
    expect(d.runs.map((r) => [r.id, r.status, r.code, r.output])).toEqual([
      ['fixtures/failing', 'fail', 100, 'failing: nothing for me here\n'],
      ['fixtures/erroring', 'error', 3, 'erroring: cannot read config\n'],
    ]);
  });

  it('the rejected version key in a real plan errors the buildpack', async () => {
    const err = await detect([[{ id: 'fixtures/version-key', optional: false }]], opts()).catch((e: DetectError) => e);
    expect(err).toBeInstanceOf(DetectError);
    expect((err as DetectError).message).toBe(
      'no buildpack group passed detection and buildpack fixtures/version-key@0.1.0 errored: fixtures/version-key@0.1.0 build plan: buildpack fixtures/version-key has a "version" key in requires[0] which is not supported; use "metadata.version" instead',
    );
  });

  it('a detect that cannot start is an error with a clear message', async () => {
    const broken = { ...catalog.findBuildpack('fixtures/failing'), dir: join(root, 'nowhere') };
    const out = await runner.detect(broken, { appDir: app, platformDir: platform, env: {} });
    expect(out.code).toBe(-1);
    expect(out.error?.message).toContain(`${join(root, 'nowhere', 'bin', 'detect')} could not start`);
  });
});
