import { spawn } from 'node:child_process';

/**
 * Running a buildpack executable (or a probe) as a child process: spawned with exactly `env`, stdin closed,
 * stdout and stderr handed over as they arrive (interleaved, as a terminal would show them).
 *
 * Hand-rolled over node:child_process rather than execa: importing execa takes ~75 ms here and each call adds
 * ~20 ms more, both on the critical path of every build (the first `/bin/detect` waits for them), while
 * lading needs only this much of it. Killing a whole process tree is the caller's (see isolation/run.ts).
 */
export interface ChildOptions {
  cwd: string;
  env: Readonly<Record<string, string>>;
  /** Each piece of stdout or stderr as it arrives. */
  onOutput?: (chunk: Buffer) => void;
  /** Stopped (`stop`) after this long. */
  timeoutMs?: number;
  /** Stopped (`stop`) when aborted. */
  signal?: AbortSignal;
  /** Its own session and process group (no controlling terminal; `process.kill(-pid)` reaches the tree). */
  detached?: boolean;
  /** Called with the pid once spawned. */
  onSpawn?: (pid: number | undefined) => void;
  /**
   * How a timeout or an abort stops it, given its pid (e.g. the whole process group, which may outlive the
   * child and hold its output pipes open); default SIGTERM to the child, SIGKILL 5 s later.
   */
  stop?: (pid: number) => void;
}

export interface ChildResult {
  /** The exit code; undefined when it did not start or was ended by a signal. */
  exitCode?: number;
  /** The signal that ended it. */
  signal?: NodeJS.Signals;
  timedOut: boolean;
  cancelled: boolean;
  /** Why it could not start (ENOENT, EACCES, …). */
  startError?: Error;
}

const FORCE_KILL_AFTER_MS = 5_000;

/** Runs `file` and resolves once it has exited and its output pipes are closed; never rejects. */
export function runChild(file: string, args: readonly string[], opts: ChildOptions): Promise<ChildResult> {
  return new Promise((resolve) => {
    let timedOut = false;
    let cancelled = false;
    let startError: Error | undefined;
    let forceTimer: NodeJS.Timeout | undefined;
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.detached ? { detached: true } : {}) });
    const stop = () => {
      if (opts.stop) {
        if (child.pid !== undefined) opts.stop(child.pid);
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      forceTimer ??= setTimeout(() => child.kill('SIGKILL'), FORCE_KILL_AFTER_MS).unref();
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, opts.timeoutMs)
      : undefined;
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.onOutput) {
      child.stdout.on('data', opts.onOutput);
      child.stderr.on('data', opts.onOutput);
    } else {
      child.stdout.resume();
      child.stderr.resume();
    }
    child.on('spawn', () => opts.onSpawn?.(child.pid));
    child.on('error', (err) => {
      startError ??= err; // a failed spawn; a failed kill of a process already gone is not reported
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(forceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      // a spawn that failed closes with the errno as its "code"
      if (startError && child.pid === undefined) resolve({ timedOut, cancelled, startError });
      else resolve({ ...(code !== null ? { exitCode: code } : {}), ...(signal !== null ? { signal } : {}), timedOut, cancelled });
    });
  });
}

/** Why a child did not finish on its own, as a phrase after its path ("timed out after 5000 ms"); undefined when it exited. */
export function childFailure(r: ChildResult, timeoutMs: number | undefined): string | undefined {
  if (r.startError) return `could not start: ${r.startError.message}`;
  if (r.cancelled) return 'was cancelled';
  if (r.timedOut) return `timed out after ${timeoutMs} ms`;
  if (r.exitCode === undefined) return `was killed by ${r.signal ?? 'a signal'}`;
  return undefined;
}
