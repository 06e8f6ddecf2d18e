import { StringDecoder } from 'node:string_decoder';
import {
  ProcessDetectRunner,
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
  const { execa } = await import('execa'); // loaded when a buildpack runs, not at CLI start-up
  const child = execa(inv.file, inv.args, {
    cwd: inv.cwd,
    env: inv.env,
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
    // Its own session and process group: no controlling terminal, and the whole tree can be stopped.
    detached: true,
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  const stopTree = treeStopper(child.pid);
  const timer = opts.timeoutMs ? setTimeout(stopTree, opts.timeoutMs) : undefined;
  opts.signal?.addEventListener('abort', stopTree, { once: true });
  let tail = '';
  const decoder = new StringDecoder('utf8');
  const take = (text: string) => {
    if (!text) return;
    opts.onOutput?.(text);
    tail = (tail + text).slice(-TAIL_CHARS);
  };
  child.all?.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
  const result = await child.finally(() => {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', stopTree);
  });
  take(decoder.end());
  const lines = tail.replace(/\n$/, '').split('\n');
  const kept = lines.slice(-(opts.tailLines ?? 40)).join('\n');
  if (result.exitCode === undefined || result.isTerminated) {
    const why = result.isCanceled
      ? 'was cancelled'
      : result.timedOut
        ? `timed out after ${opts.timeoutMs} ms`
        : result.signal
          ? `was killed by ${result.signal}`
          : `could not start: ${result.shortMessage}`;
    return { code: -1, tail: kept, error: new LadingError(result.isCanceled ? 'INTERRUPTED' : 'BUILD', `${inv.file} ${why}`, { cause: result }) };
  }
  return { code: result.exitCode, tail: kept };
}

/**
 * Stopping only the direct child would leave its descendants holding the output pipe (a `sleep` in a bash
 * buildpack keeps a cancelled build waiting): signal the process group, SIGKILL after a short grace.
 */
function treeStopper(pid: number | undefined): () => void {
  return () => {
    if (pid === undefined) return;
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pid, sig);
      } catch {
        // already gone
      }
    };
    kill('SIGTERM');
    setTimeout(() => kill('SIGKILL'), 2_000).unref();
  };
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
