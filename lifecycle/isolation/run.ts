import { StringDecoder } from 'node:string_decoder';
import {
  childFailure,
  ProcessDetectRunner,
  runChild,
  type BuildpackDescriptor,
  type DetectInputs,
  type DetectOutput,
  type DetectRunner,
  type Env,
  type Invocation,
  type ProcessDetectRunnerOptions,
} from '../buildpack/index.js';
import { LadingError } from '../../registry/oci/index.js';
import type { Isolation } from './isolation.js';
import type { BuildDirs } from './mounts.js';

export interface RunProcessOptions {
  /** Each piece of output as it arrives (stdout and stderr interleaved). */
  onOutput?: (chunk: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** How many trailing lines of output to keep for the result (default 40). */
  tailLines?: number;
  /** The process has started. */
  onSpawn?: () => void;
}

export interface ProcessResult {
  /** Exit code; -1 when the process could not start or was killed. */
  code: number;
  /** The last lines of its output. */
  tail: string;
  /** Why it did not finish on its own (could not start, timed out, cancelled, killed). */
  error?: LadingError;
}

const TAIL_CHARS = 16 * 1024;

/**
 * Runs an (already wrapped) invocation with exactly its env, streaming output to `onOutput` without
 * buffering it all: only the tail is kept, for error messages.
 */
export async function runProcess(inv: Invocation, opts: RunProcessOptions = {}): Promise<ProcessResult> {
  let tail = '';
  const decoder = new StringDecoder('utf8');
  const take = (text: string) => {
    if (!text) return;
    opts.onOutput?.(text);
    tail = (tail + text).slice(-TAIL_CHARS);
  };
  const result = await runChild(inv.file, inv.args, {
    cwd: inv.cwd,
    env: inv.env,
    // Its own session and process group: no controlling terminal, and the whole tree can be stopped.
    detached: true,
    stop: stopTree,
    onOutput: (chunk) => take(decoder.write(chunk)),
    ...(opts.onSpawn ? { onSpawn: () => opts.onSpawn!() } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  take(decoder.end());
  const lines = tail.replace(/\n$/, '').split('\n');
  const kept = lines.slice(-(opts.tailLines ?? 40)).join('\n');
  const failure = childFailure(result, opts.timeoutMs);
  if (failure !== undefined) {
    return { code: -1, tail: kept, error: new LadingError(result.cancelled ? 'INTERRUPTED' : 'BUILD', `${inv.file} ${failure}`, { cause: result.startError ?? result }) };
  }
  return { code: result.exitCode!, tail: kept };
}

/**
 * Stopping only the direct child would leave its descendants holding the output pipe (a `sleep` in a bash
 * buildpack keeps a cancelled build waiting): signal the process group, SIGKILL after a short grace.
 */
function stopTree(pid: number): void {
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  setTimeout(() => kill('SIGKILL'), 2_000).unref();
}

export interface IsolatedDetectRunnerOptions extends Omit<ProcessDetectRunnerOptions, 'wrap'> {
  /** The build's layers dir, mounted at `/layers` during detection as well (optional). */
  layersDir?: string;
  /** Variables a buildpack gets on top of the common env, by its API (CNB_TARGET_*, CNB_EXEC_ENV). */
  envFor?: (bp: BuildpackDescriptor) => Env;
}

/**
 * A DetectRunner whose `/bin/detect` runs inside the isolation: the app dir at `/workspace`, the platform
 * dir at `/platform` and the buildpack at `/cnb/buildpacks/<id>/<version>` (with a namespace), so the
 * paths a buildpack records during detection are the ones it sees during build.
 */
export class IsolatedDetectRunner implements DetectRunner {
  constructor(
    private readonly isolation: Isolation,
    private readonly opts: IsolatedDetectRunnerOptions = {},
  ) {}

  detect(bp: BuildpackDescriptor, inputs: DetectInputs): Promise<DetectOutput> {
    const dirs: BuildDirs = {
      appDir: inputs.appDir,
      platformDir: inputs.platformDir,
      buildpack: { dir: bp.dir, id: bp.info.id, version: bp.info.version },
      ...(this.opts.layersDir !== undefined ? { layersDir: this.opts.layersDir } : {}),
    };
    const seen = this.isolation.paths(dirs);
    const { envFor, layersDir: _layers, ...processOpts } = this.opts;
    const runner = new ProcessDetectRunner({ ...processOpts, wrap: (inv) => this.isolation.wrap(inv, dirs) });
    return runner.detect(
      { ...bp, dir: seen.buildpackDir ?? bp.dir },
      { appDir: seen.appDir, platformDir: seen.platformDir ?? inputs.platformDir, env: { ...inputs.env, ...(envFor?.(bp) ?? {}) } },
    );
  }
}
