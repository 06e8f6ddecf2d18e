import { dirname } from 'node:path';
import { bindingRoot, readBindings, type Binding } from './bindings.js';
import { readBuildpackDescriptor, type BuildpackDescriptor } from './descriptor.js';
import { BuildpackError } from './errors.js';
import { restoreExtraCaCerts } from './extra-ca.js';
import { Layers } from './layer.js';
import { Logger, type LogSink } from './logger.js';
import { readStore, writeBuildResult, type BuildResult } from './outputs.js';
import { buildPlanTable, readBuildpackPlan, type BuildPlan, type BuildpackPlan } from './plan.js';
import { readPlatform, targetFromEnv, type Platform, type Target } from './platform.js';
import { finishReplayRecording, startReplayRecording } from './replay.js';
import { writeTomlFile, type TomlTable } from './toml-file.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** What both phases see. */
export interface PhaseContext {
  /** The app directory: the working directory the lifecycle started us in. */
  appDir: string;
  buildpack: BuildpackDescriptor;
  platform: Platform;
  /** Service bindings (`$SERVICE_BINDING_ROOT`, else `<platform>/bindings`), sorted by name. */
  bindings: readonly Binding[];
  target: Target;
  /** CNB_EXEC_ENV, `production` when unset. */
  execEnv: string;
  /** This process's environment (the platform's variables already applied unless clear-env). */
  env: Env;
  logger: Logger;
  /** A user setting: the process env, else `<platform>/env/<name>` (still readable under clear-env). */
  config(name: string): string | undefined;
}

export type DetectContext = PhaseContext;

export interface BuildContext extends PhaseContext {
  plan: BuildpackPlan;
  layers: Layers;
  /** store.toml [metadata] from the previous build. */
  store: TomlTable;
}

/** Detect passes with an optional plan contribution, or fails (exit 100) with a reason shown to the user. */
export type DetectResult = { pass: true; plan?: BuildPlan } | { pass: false; reason?: string };

export const detectPass = (plan?: BuildPlan): DetectResult => (plan ? { pass: true, plan } : { pass: true });
export const detectFail = (reason?: string): DetectResult => (reason ? { pass: false, reason } : { pass: false });

export type DetectFunction = (ctx: DetectContext) => Promise<DetectResult>;
export type BuildFunction = (ctx: BuildContext) => Promise<BuildResult | void>;

/** The process's I/O, injectable so the entry points run in-process in tests. */
export interface ProcessIo {
  /** Positional arguments after the script path. */
  args: readonly string[];
  /** The executable's own path ($0), used to find the buildpack root when CNB_BUILDPACK_DIR is unset. */
  script: string;
  env: Env;
  cwd: string;
  stdout: LogSink;
  stderr: LogSink;
}

export const DETECT_PASS = 0;
export const DETECT_FAIL = 100;
export const ERROR_EXIT = 1;

function processIo(): ProcessIo {
  return { args: process.argv.slice(2), script: process.argv[1] ?? '', env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr };
}

/** An env var, else the positional argument (Buildpack API < 0.8 lifecycles pass only those). */
function input(io: ProcessIo, envName: string, position: number, what: string): string {
  const v = io.env[envName] || io.args[position];
  if (!v) throw new BuildpackError('CONTRACT', `${envName} is not set and no positional argument ${position + 1} was given (${what})`);
  return v;
}

async function phaseContext(io: ProcessIo, logger: Logger, platformDir: string): Promise<PhaseContext> {
  const buildpackDir = io.env['CNB_BUILDPACK_DIR'] || dirname(dirname(io.script));
  const [buildpack, platform, bindings] = await Promise.all([readBuildpackDescriptor(buildpackDir), readPlatform(platformDir), readBindings(bindingRoot(io.env, platformDir))]);
  return {
    appDir: io.cwd,
    buildpack,
    platform,
    bindings,
    target: targetFromEnv(io.env),
    execEnv: io.env['CNB_EXEC_ENV'] || 'production',
    env: io.env,
    logger,
    config: (name) => io.env[name] ?? platform.env[name],
  };
}

function report(logger: Logger, phase: string, id: string | undefined, err: unknown, debug: boolean): void {
  logger.error(new BuildpackError('CONTRACT', `${id ?? 'buildpack'} ${phase} failed`, { cause: err }));
  if (debug && err instanceof Error && err.stack) logger.debug(err.stack);
}

/** Runs a detect function against the CNB contract; returns the exit code (0 pass, 100 fail, 1 error). */
export async function executeDetect(fn: DetectFunction, io: ProcessIo): Promise<number> {
  const logger = Logger.fromEnv(io.env, { stdout: io.stdout, stderr: io.stderr });
  let id: string | undefined;
  try {
    const platformDir = input(io, 'CNB_PLATFORM_DIR', 0, 'the platform directory');
    const planPath = input(io, 'CNB_BUILD_PLAN_PATH', 1, 'the build plan file');
    const ctx = await phaseContext(io, logger, platformDir);
    id = ctx.buildpack.id;
    const result = await fn(ctx);
    if (!result.pass) {
      if (result.reason) logger.info(`${id}: ${result.reason}`);
      return DETECT_FAIL;
    }
    if (result.plan) await writeTomlFile(planPath, buildPlanTable(result.plan));
    return DETECT_PASS;
  } catch (err) {
    report(logger, 'detect', id, err, (io.env['BP_LOG_LEVEL'] ?? '').toUpperCase() === 'DEBUG');
    return ERROR_EXIT;
  }
}

/** Runs a build function: provides the context, then writes layer TOMLs, launch.toml, build.toml, store.toml. */
export async function executeBuild(fn: BuildFunction, io: ProcessIo): Promise<number> {
  const logger = Logger.fromEnv(io.env, { stdout: io.stdout, stderr: io.stderr });
  let id: string | undefined;
  try {
    const layersDir = input(io, 'CNB_LAYERS_DIR', 0, 'the layers directory');
    const platformDir = input(io, 'CNB_PLATFORM_DIR', 1, 'the platform directory');
    const planPath = input(io, 'CNB_BP_PLAN_PATH', 2, 'the buildpack plan file');
    startReplayRecording(io.env, layersDir, planPath);
    const base = await phaseContext(io, logger, platformDir);
    id = base.buildpack.id;
    logger.title(`${base.buildpack.name} ${base.buildpack.version}`);
    const epoch = Number(io.env['SOURCE_DATE_EPOCH']);
    const layers = new Layers(layersDir, {
      buildpack: base.buildpack,
      ...(io.env['SOURCE_DATE_EPOCH'] && Number.isFinite(epoch) ? { sourceDateEpoch: epoch } : {}),
    });
    const [plan, store] = await Promise.all([readBuildpackPlan(planPath), readStore(layersDir)]);
    const result = (await fn({ ...base, plan, layers, store })) ?? {};
    await layers.writeLayerTomls();
    await writeBuildResult(layersDir, result, plan);
    await finishReplayRecording(io.env, 0, (m) => logger.debug(m));
    return 0;
  } catch (err) {
    report(logger, 'build', id, err, (io.env['BP_LOG_LEVEL'] ?? '').toUpperCase() === 'DEBUG');
    await finishReplayRecording(io.env, ERROR_EXIT).catch(() => undefined);
    return ERROR_EXIT;
  }
}

/** bin/detect: `await runDetect(detect)`; sets the process exit code. */
export async function runDetect(fn: DetectFunction): Promise<void> {
  restoreExtraCaCerts();
  process.exitCode = await executeDetect(fn, processIo());
}

/** bin/build: `await runBuild(build)`; sets the process exit code. */
export async function runBuild(fn: BuildFunction): Promise<void> {
  restoreExtraCaCerts();
  process.exitCode = await executeBuild(fn, processIo());
}
