import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// bin/detect answers the common pass itself, in sh, and hands everything else to detect.ts (bin/detect.mjs).
// Each case runs three ways: bin/detect as the lifecycle runs it, `node bin/detect.mjs` (detect.ts alone), and
// bin/detect with a `node` on PATH that only reports it was started, which tells which path the script took.
const bin = join(import.meta.dirname, '..', 'bin');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  plan: string | null;
}

describe('bin/detect', () => {
  let root: string;
  let stubs: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lading-node-bin-detect-'));
    stubs = join(root, 'stubs');
    await mkdir(stubs);
    await writeFile(join(stubs, 'node'), '#!/bin/sh\necho "node started" >&2\nexit 99\n');
    await chmod(join(stubs, 'node'), 0o755);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  let n = 0;
  /** A fresh app dir holding `files` (a trailing / makes a directory) and a platform dir with `platformEnv`. */
  const setUp = async (files: string[], platformEnv: Record<string, string> = {}) => {
    const dir = join(root, `case-${n++}`);
    const app = join(dir, 'app');
    await mkdir(join(dir, 'platform', 'env'), { recursive: true });
    for (const f of files) {
      await mkdir(join(app, f, '..'), { recursive: true });
      if (f.endsWith('/')) await mkdir(join(app, f), { recursive: true });
      else await writeFile(join(app, f), '{}');
    }
    await mkdir(app, { recursive: true });
    for (const [k, v] of Object.entries(platformEnv)) await writeFile(join(dir, 'platform', 'env', k), v);
    return { dir, app, platform: join(dir, 'platform') };
  };

  const run = (file: string, args: string[], opts: { cwd: string; env: Record<string, string>; plan: string }) =>
    new Promise<Outcome>((resolve) => {
      execFile(file, args, { cwd: opts.cwd, env: opts.env }, async (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const plan = await readFile(opts.plan, 'utf8').catch(() => null);
        await rm(opts.plan, { force: true });
        resolve({ code, stdout, stderr, plan });
      });
    });

  /** The three runs of one case; `viaEnv` false passes the platform dir and plan path as arguments instead. */
  const detectAll = async (files: string[], { env = {}, platformEnv = {}, viaEnv = true, planIn = '' }: { env?: Record<string, string>; platformEnv?: Record<string, string>; viaEnv?: boolean; planIn?: string } = {}) => {
    const { dir, app, platform } = await setUp(files, platformEnv);
    const plan = join(dir, planIn, 'plan.toml');
    const base = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNB_BUILDPACK_DIR: join(bin, '..'), ...env };
    const withInputs = viaEnv ? { ...base, CNB_PLATFORM_DIR: platform, CNB_BUILD_PLAN_PATH: plan } : base;
    const args = viaEnv ? [] : [platform, plan];
    const opts = { cwd: app, env: withInputs, plan };
    return {
      script: await run(join(bin, 'detect'), args, opts),
      ts: await run(process.execPath, [join(bin, 'detect.mjs'), ...args], opts),
      stubbed: await run(join(bin, 'detect'), args, { ...opts, env: { ...withInputs, PATH: `${stubs}:${withInputs.PATH}` } }),
    };
  };

  it('passes without node for a marker file, writing the plan detect.ts writes', async () => {
    for (const files of [['package.json'], ['server.js'], ['app.js'], ['index.js'], ['package.json/', 'index.js']]) {
      for (const viaEnv of [true, false]) {
        const { script, ts, stubbed } = await detectAll(files, { viaEnv });
        expect(ts.code, `${files} ${ts.stderr}`).toBe(0);
        expect(ts.plan).toContain('name = "node"');
        expect(script).toEqual(ts);
        expect(stubbed).toEqual(ts);
      }
    }
  });

  it('leaves everything else to detect.ts', async () => {
    const cases: Array<[string, string[], Parameters<typeof detectAll>[1], number]> = [
      ['no marker', ['main.go', 'package.json/'], {}, 100],
      ['BP_NODE_PROJECT_PATH in the environment', ['apps/web/package.json'], { env: { BP_NODE_PROJECT_PATH: 'apps/web' } }, 0],
      ['BP_NODE_PROJECT_PATH set empty', ['package.json'], { env: { BP_NODE_PROJECT_PATH: '' } }, 0],
      ['BP_NODE_PROJECT_PATH in the platform env dir', ['package.json', 'apps/web/server.js'], { platformEnv: { BP_NODE_PROJECT_PATH: 'apps/web' } }, 0],
      ['a project path outside the app', ['package.json'], { env: { BP_NODE_PROJECT_PATH: '../elsewhere' } }, 1],
      ['a plan path it cannot write', ['package.json'], { planIn: 'missing' }, 1],
    ];
    for (const [what, files, opts, code] of cases) {
      const { script, ts, stubbed } = await detectAll(files, opts);
      expect(ts.code, `${what}: ${ts.stdout}${ts.stderr}`).toBe(code);
      expect(script, what).toEqual(ts);
      expect(stubbed, what).toEqual({ code: 99, stdout: '', stderr: 'node started\n', plan: null });
    }
  });

  it('leaves a missing platform dir or plan path to detect.ts', async () => {
    const { app } = await setUp(['package.json']);
    const env = { PATH: `${stubs}:${process.env['PATH'] ?? '/usr/bin:/bin'}` };
    const stubbed = await run(join(bin, 'detect'), [], { cwd: app, env, plan: join(app, 'none.toml') });
    expect(stubbed).toEqual({ code: 99, stdout: '', stderr: 'node started\n', plan: null });
  });
});
