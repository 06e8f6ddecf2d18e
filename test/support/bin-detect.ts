import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

// Our buildpacks' bin/detect answer the common cases in sh and hand everything else to detect.ts (bin/detect.mjs).
// Each case runs three ways: bin/detect as the lifecycle runs it, `node bin/detect.mjs` (detect.ts alone), and
// bin/detect with a `node` on PATH that only reports it was started, which tells which path the script took.

export interface DetectOutcome {
  code: number;
  stdout: string;
  stderr: string;
  plan: string | null;
}

export interface DetectCase {
  /** Files made in the app dir (`{}` each); a trailing / makes a directory. */
  files: string[];
  env?: Record<string, string>;
  /** Files of the platform's env dir. */
  platformEnv?: Record<string, string>;
  /** false: the platform dir and plan path go as arguments instead of CNB_PLATFORM_DIR / CNB_BUILD_PLAN_PATH. */
  viaEnv?: boolean;
  /** A sub-directory (not made) for the plan file. */
  planIn?: string;
}

/** What the stub node gives: the script handed the case to detect.ts. */
export const HANDED_TO_NODE: DetectOutcome = { code: 99, stdout: '', stderr: 'node started\n', plan: null };

export class BinDetect {
  #root = '';
  #stubs = '';
  #n = 0;
  constructor(private readonly buildpackDir: string) {}

  async init(): Promise<void> {
    this.#root = await mkdtemp(join(tmpdir(), 'lading-bin-detect-'));
    this.#stubs = join(this.#root, 'stubs');
    await mkdir(this.#stubs);
    await writeFile(join(this.#stubs, 'node'), '#!/bin/sh\necho "node started" >&2\nexit 99\n');
    await chmod(join(this.#stubs, 'node'), 0o755);
  }

  async dispose(): Promise<void> {
    if (this.#root) await rm(this.#root, { recursive: true, force: true });
  }

  /** A fresh app dir holding `files` and a platform dir whose env/ holds `platformEnv`. */
  async setUp(files: string[], platformEnv: Record<string, string> = {}): Promise<{ dir: string; app: string; platform: string }> {
    const dir = join(this.#root, `case-${this.#n++}`);
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
  }

  run(file: string, args: string[], opts: { cwd: string; env: Record<string, string>; plan: string }): Promise<DetectOutcome> {
    return new Promise((resolve) => {
      execFile(file, args, { cwd: opts.cwd, env: opts.env }, async (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const plan = await readFile(opts.plan, 'utf8').catch(() => null);
        await rm(opts.plan, { force: true });
        resolve({ code, stdout, stderr, plan });
      });
    });
  }

  /** bin/detect with no platform dir or plan path at all, with the stub node. */
  async withoutInputs(files: string[]): Promise<DetectOutcome> {
    const { app } = await this.setUp(files);
    const env = { PATH: `${this.#stubs}:${process.env['PATH'] ?? '/usr/bin:/bin'}` };
    return this.run(join(this.buildpackDir, 'bin', 'detect'), [], { cwd: app, env, plan: join(app, 'none.toml') });
  }

  /** The three runs of one case. */
  async all({ files, env = {}, platformEnv = {}, viaEnv = true, planIn = '' }: DetectCase): Promise<{ script: DetectOutcome; ts: DetectOutcome; stubbed: DetectOutcome }> {
    const { dir, app, platform } = await this.setUp(files, platformEnv);
    const plan = join(dir, planIn, 'plan.toml');
    const base = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNB_BUILDPACK_DIR: this.buildpackDir, ...env };
    const withInputs = viaEnv ? { ...base, CNB_PLATFORM_DIR: platform, CNB_BUILD_PLAN_PATH: plan } : base;
    const args = viaEnv ? [] : [platform, plan];
    const opts = { cwd: app, env: withInputs, plan };
    const bin = join(this.buildpackDir, 'bin');
    return {
      script: await this.run(join(bin, 'detect'), args, opts),
      ts: await this.run(process.execPath, [join(bin, 'detect.mjs'), ...args], opts),
      stubbed: await this.run(join(bin, 'detect'), args, { ...opts, env: { ...withInputs, PATH: `${this.#stubs}:${withInputs.PATH}` } }),
    };
  }

  /**
   * Runs each case three ways and checks that detect.ts exits with `code` and the script gives the same: without
   * node (`answered`: the stub is never started) or by handing the case to detect.ts.
   */
  async expectCases(cases: ReadonlyArray<[string, DetectCase, number]>, path: 'answered' | 'handed to node'): Promise<void> {
    for (const [what, c, code] of cases) {
      const { script, ts, stubbed } = await this.all(c);
      expect(ts.code, `${what}: ${ts.stdout}${ts.stderr}`).toBe(code);
      expect(script, what).toEqual(ts);
      expect(stubbed, what).toEqual(path === 'answered' ? ts : HANDED_TO_NODE);
    }
  }
}
