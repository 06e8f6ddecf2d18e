import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LadingError } from '../../registry/oci/index.js';
import type { BuildpackDescriptor } from './descriptor.js';
import type { DetectInputs, DetectOutput, DetectRunner } from './detect.js';
import { childFailure, runChild } from './child.js';
import { detectInvocation, type Invocation } from './invocation.js';

/** Rewrites an invocation before it runs, e.g. to enter a private mount namespace (design.md §1). */
export type CommandWrapper = (invocation: Invocation) => Invocation;

export interface ProcessDetectRunnerOptions {
  /** Parent directory for the per-run plan files (default: the OS temp dir). */
  tmpDir?: string;
  /** Kill a `/bin/detect` that runs longer than this (default: no limit). */
  timeoutMs?: number;
  /** Cancels running detects (Ctrl-C). */
  signal?: AbortSignal;
  wrap?: CommandWrapper;
  /** Called as each `/bin/detect` process starts: the caller can use the wait for work of its own. */
  onSpawn?: () => void;
}

/**
 * Runs `<bp>/bin/detect` as a process (buildpack.md "Detection"): positional args `<platform> <plan>`,
 * env CNB_BUILDPACK_DIR, CNB_PLATFORM_DIR and CNB_BUILD_PLAN_PATH (a fresh empty file per run) on top of
 * the given env and nothing else of the host's, working dir = the app dir; stdout and stderr are captured
 * together and returned.
 */
export class ProcessDetectRunner implements DetectRunner {
  constructor(private readonly opts: ProcessDetectRunnerOptions = {}) {}

  async detect(bp: BuildpackDescriptor, inputs: DetectInputs): Promise<DetectOutput> {
    const planDir = await mkdtemp(join(this.opts.tmpDir ?? tmpdir(), 'lading-plan-'));
    const planFile = join(planDir, 'plan.toml');
    try {
      await writeFile(planFile, '', { mode: 0o600 });
      const command = (this.opts.wrap ?? ((c) => c))(detectInvocation(bp, { ...inputs, planPath: planFile }));
      const chunks: Buffer[] = [];
      const result = await runChild(command.file, command.args, {
        cwd: command.cwd,
        env: command.env,
        onOutput: (c) => chunks.push(c),
        ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}),
        ...(this.opts.signal ? { signal: this.opts.signal } : {}),
        ...(this.opts.onSpawn ? { onSpawn: () => this.opts.onSpawn!() } : {}),
      });
      const output = Buffer.concat(chunks).toString('utf8');
      const failure = childFailure(result, this.opts.timeoutMs);
      if (failure !== undefined) {
        return { code: -1, output, error: new LadingError(result.cancelled ? 'INTERRUPTED' : 'DETECT', `${command.file} ${failure}`, { cause: result.startError ?? result }) };
      }
      if (result.exitCode !== 0) return { code: result.exitCode!, output };
      return { code: 0, output, planText: await readFile(planFile, 'utf8'), planFile: `${bp.info.id}@${bp.info.version} build plan` };
    } finally {
      await rm(planDir, { recursive: true, force: true });
    }
  }
}
