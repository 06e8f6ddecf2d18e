import { availableParallelism } from 'node:os';
import { LadingError, isLadingError } from '../../registry/oci/index.js';
import { EMPTY_DETECT_PLAN, parseDetectPlan, resolveBuildPlan, type DetectPlan, type PlanEntry } from './build-plan.js';
import { effectiveTargets, targetSatisfies, type BuildpackDescriptor, type Order } from './descriptor.js';
import type { Env, EnvFile } from './env-files.js';
import { expandOrder, type BuildpackSource, type GroupElement } from './order.js';
import type { GroupMember } from './plan-files.js';
import { withPlatformEnv, type TargetEnvInput } from './process-env.js';

/** What one `/bin/detect` run needs besides the buildpack; `env` is complete except the per-run CNB_* paths. */
export interface DetectInputs {
  appDir: string;
  platformDir: string;
  env: Env;
}

/** The raw result of one `/bin/detect` run. */
export interface DetectOutput {
  /** Exit code; -1 when the process could not run or was killed. */
  code: number;
  /** stdout and stderr interleaved, shown to the user only on error (or when verbose). */
  output: string;
  /** Contents of `$CNB_BUILD_PLAN_PATH` after a pass. */
  planText?: string;
  /** Where the plan was written, for messages. */
  planFile?: string;
  error?: Error;
}

/** Runs a buildpack's `/bin/detect` (role interface; a process implementation lives in detect-runner.ts). */
export interface DetectRunner {
  detect(bp: BuildpackDescriptor, inputs: DetectInputs): Promise<DetectOutput>;
}

export type DetectStatus = 'pass' | 'fail' | 'error';

export interface DetectRun {
  id: string;
  version: string;
  status: DetectStatus;
  code: number;
  output: string;
  plan: DetectPlan;
  error?: Error;
}

export interface DetectOptions {
  source: BuildpackSource;
  runner: DetectRunner;
  appDir: string;
  platformDir: string;
  /** Base env for every buildpack: filtered host env, CNB_TARGET_*, CNB_EXEC_ENV. */
  env: Env;
  /** User-provided variables from `<platform>/env/`, set unless a buildpack has clear-env. */
  platformEnv?: Env;
  /** Operator variables from `<build-config>/env/`. */
  buildConfigEnv?: readonly EnvFile[];
  /** The run image's target; a non-optional buildpack without a matching target fails its group. */
  target?: TargetEnvInput;
  /** Non-default execution environment, for skipping buildpacks that exclude it. */
  execEnv?: string;
  /** How many `/bin/detect` run at once (default: the number of CPUs). */
  concurrency?: number;
  /** Progress: called once per finished `/bin/detect`. */
  onRun?: (run: DetectRun) => void;
}

export interface DetectResult {
  group: GroupMember[];
  plan: PlanEntry[];
  /** Every `/bin/detect` that ran, in the order they were first needed. */
  runs: DetectRun[];
}

/** Detection failed; `runs` holds each buildpack's output so the CLI can show what went wrong. */
export class DetectError extends LadingError {
  constructor(
    code: 'DETECT_NO_GROUP' | 'DETECT_ERRORED',
    message: string,
    readonly runs: readonly DetectRun[],
  ) {
    super(code, message);
    this.name = 'DetectError';
  }
}

/**
 * Detection (buildpack.md "Phase #1: Detection"): tries the groups of `order` in resolution order; runs the
 * `/bin/detect` of a group's buildpacks in parallel (each buildpack at most once per build); selects the
 * first group whose non-optional members all pass, with at least one pass, and whose Build Plan resolves.
 * While a group's detects run, the next group's start too where the concurrency limit leaves room (the
 * default builder's groups have one buildpack each: a Go app's detect would otherwise wait for Node's
 * first); once a group is chosen, queued detects are dropped and running ones finish. Every detect that
 * ran is in `runs`. Throws DetectError DETECT_ERRORED when no group passed and a buildpack errored, else
 * DETECT_NO_GROUP.
 */
export async function detect(order: Order, opts: DetectOptions): Promise<DetectResult> {
  const runs = new Map<string, Promise<DetectRun | undefined>>();
  const limit = limiter(opts.concurrency ?? availableParallelism());
  let decided = false;
  const start = (el: GroupElement): Promise<DetectRun | undefined> => {
    const key = `${el.id}@${el.version}`;
    let run = runs.get(key);
    if (!run) {
      // A queued detect gets its slot as the one before it finishes, before the group it finished has been
      // judged: one turn of the event loop lets that happen first.
      run = limit(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return decided ? undefined : runOne(el, opts);
      });
      runs.set(key, run);
    }
    return run;
  };
  const ran = async () => (await Promise.all(runs.values())).filter((r): r is DetectRun => r !== undefined);
  // The groups one step ahead of use: expanding a later group can fail (a missing buildpack), which must
  // surface only if detection gets that far.
  const groups = expandOrder(order, opts.source, opts.execEnv === undefined ? {} : { execEnv: opts.execEnv })[Symbol.iterator]();
  let ahead: IteratorResult<GroupElement[]> | { error: unknown } = next(groups);
  let errored: DetectRun | undefined;
  let tried = 0;
  try {
    for (;;) {
      if ('error' in ahead) throw ahead.error;
      if (ahead.done) break;
      const group = ahead.value;
      tried++;
      const current = group.map(start);
      ahead = next(groups);
      if (!('error' in ahead) && !ahead.done) ahead.value.forEach(start);
      const results = (await Promise.all(current)) as DetectRun[];
      const anyRequiredFailed = group.some((el, i) => !el.optional && results[i]!.status !== 'pass');
      const groupErrored = results.find((r) => r.status === 'error');
      if (anyRequiredFailed) {
        errored ??= groupErrored;
        continue;
      }
      const passed = group.flatMap((el, i) => (results[i]!.status === 'pass' ? [{ ...el, plan: results[i]!.plan }] : []));
      const resolved = passed.length > 0 ? resolveBuildPlan(passed) : undefined;
      if (!resolved) continue;
      decided = true;
      return {
        group: resolved.group.map(groupMember),
        plan: resolved.entries,
        runs: await ran(),
      };
    }
  } catch (err) {
    // nothing keeps running behind the error
    decided = true;
    await ran();
    throw err;
  }
  decided = true;
  const all = await ran();
  if (errored) {
    throw new DetectError(
      'DETECT_ERRORED',
      `no buildpack group passed detection and buildpack ${errored.id}@${errored.version} errored` +
        (errored.error ? `: ${errored.error.message}` : ` (exit code ${errored.code})`),
      all,
    );
  }
  const names = all.map((r) => `${r.id}@${r.version} ${r.status}`).join(', ');
  throw new DetectError(
    'DETECT_NO_GROUP',
    `no buildpack group passed detection (${tried} group${tried === 1 ? '' : 's'} tried${names ? `: ${names}` : ''})`,
    all,
  );
}

function next<T>(it: Iterator<T>): IteratorResult<T> | { error: unknown } {
  try {
    return it.next();
  } catch (error) {
    return { error };
  }
}

async function runOne(el: GroupElement, opts: DetectOptions): Promise<DetectRun> {
  const base = { id: el.id, version: el.version, output: '', plan: EMPTY_DETECT_PLAN };
  const bp = el.descriptor;
  let run: DetectRun;
  if (opts.target && !effectiveTargets(bp, { build: true }).some((t) => targetSatisfies(t, opts.target!))) {
    const error = new LadingError('DETECT', `${bp.file}: buildpack ${el.id}@${el.version} declares no target matching the run image ${describeTarget(opts.target)}`);
    run = { ...base, status: el.optional ? 'fail' : 'error', code: -1, error };
  } else {
    const env = withPlatformEnv(opts.env, { platformEnv: opts.platformEnv ?? {}, clearEnv: bp.info.clearEnv, ...(opts.buildConfigEnv ? { buildConfigEnv: opts.buildConfigEnv } : {}) });
    const out = await opts.runner.detect(bp, { appDir: opts.appDir, platformDir: opts.platformDir, env });
    run = classify(el, out);
  }
  opts.onRun?.(run);
  return run;
}

function classify(el: GroupElement, out: DetectOutput): DetectRun {
  const base = { id: el.id, version: el.version, code: out.code, output: out.output, plan: EMPTY_DETECT_PLAN };
  if (out.error || (out.code !== 0 && out.code !== 100)) return { ...base, status: 'error', ...(out.error ? { error: out.error } : {}) };
  if (out.code === 100) return { ...base, status: 'fail' };
  try {
    const plan = parseDetectPlan(out.planText ?? '', out.planFile ?? `build plan of ${el.id}`, el.id);
    return { ...base, status: 'pass', plan };
  } catch (err) {
    if (!isLadingError(err)) throw err;
    return { ...base, status: 'error', code: -1, error: err };
  }
}

function groupMember(el: GroupElement): GroupMember {
  const m: GroupMember = { id: el.id, version: el.version, api: el.descriptor.api };
  if (el.descriptor.info.homepage) m.homepage = el.descriptor.info.homepage;
  return m;
}

function describeTarget(t: TargetEnvInput): string {
  const base = [t.os, t.arch, t.variant].filter(Boolean).join('/');
  return t.distro?.name ? `${base} (${t.distro.name} ${t.distro.version ?? ''})`.trim() : base;
}

function limiter(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter so a newcomer cannot overtake it.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
