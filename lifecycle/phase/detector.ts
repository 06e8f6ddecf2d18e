import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  detect,
  groupToml,
  planToml,
  readPlatformEnvDir,
  targetEnv,
  type BuildpackDescriptor,
  type BuildpackSource,
  type DetectRun,
  type Env,
  type EnvFile,
  type GroupMember,
  type Order,
  type PlanEntry,
  type TargetEnvInput,
} from '../buildpack/index.js';
import { IsolatedDetectRunner, type Isolation } from '../isolation/index.js';
import { buildpackFeatures, effectiveFeatures, type PlatformFeatures } from '../platform/index.js';
import { LadingError } from '../../registry/oci/index.js';

/** What running buildpack processes needs, in the detect and the build phase alike. */
export interface BuildpackProcessInputs {
  catalog: BuildpackSource;
  /** The build's dirs on this machine; buildpacks see them at the isolation's paths. */
  appDir: string;
  platformDir: string;
  features: PlatformFeatures;
  isolation: Isolation;
  /** The filtered host env (filterHostEnv): never registry credentials. */
  env: Env;
  /** User variables; default: the files of `<platform>/env/`. */
  platformEnv?: Env;
  /** Operator variables from `<build-config>/env/`. */
  buildConfigEnv?: readonly EnvFile[];
  /** The run image's target (used when the platform has the targets feature). */
  target?: TargetEnvInput;
  /** Execution environment (default `production`; sent when both APIs have the exec-env feature). */
  execEnv?: string;
  signal?: AbortSignal;
  /** Kill one buildpack process that runs longer than this. */
  timeoutMs?: number;
}

export interface DetectorInputs extends BuildpackProcessInputs {
  /** The builder's order, or one group made of the `-b` buildpacks (orderOfBuildpacks). */
  order: Order;
  /** When given, mounted at /layers during detection and where group.toml and plan.toml are written. */
  layersDir?: string;
  concurrency?: number;
  /** Called once per finished `/bin/detect`, e.g. to show output under --verbose. */
  onRun?: (run: DetectRun) => void;
  /** Called as each `/bin/detect` process starts (the creator checks the cache's kept trees meanwhile). */
  onSpawn?: () => void;
}

export interface DetectorResult {
  group: GroupMember[];
  plan: PlanEntry[];
  /** group.toml and plan.toml contents (platform.md `detector` outputs). */
  groupToml: string;
  planToml: string;
  /** Every `/bin/detect` that ran, with its output (shown by the CLI on error or with --verbose). */
  runs: DetectRun[];
}

/**
 * The detect phase (platform.md `detector`, buildpack.md "Phase #1: Detection"): resolves the order into
 * groups and runs their `/bin/detect` in the isolation, with the CNB_* variables each buildpack's API
 * calls for. Writes group.toml and plan.toml to the layers dir when one is given. Failures are the
 * DetectError of lifecycle/buildpack (DETECT_NO_GROUP = 20, DETECT_ERRORED = 21), holding every run's output.
 */
export async function runDetector(inputs: DetectorInputs): Promise<DetectorResult> {
  const features = inputs.features;
  const target = features.targets ? inputs.target : undefined;
  const runner = new IsolatedDetectRunner(inputs.isolation, {
    ...(inputs.layersDir !== undefined ? { layersDir: inputs.layersDir } : {}),
    ...(inputs.signal ? { signal: inputs.signal } : {}),
    ...(inputs.timeoutMs ? { timeoutMs: inputs.timeoutMs } : {}),
    ...(inputs.onSpawn ? { onSpawn: inputs.onSpawn } : {}),
    envFor: (bp) => lifecycleEnv(bp, features, target, inputs.execEnv),
  });
  const result = await detect(inputs.order, {
    source: inputs.catalog,
    runner,
    appDir: inputs.appDir,
    platformDir: inputs.platformDir,
    env: inputs.env,
    platformEnv: inputs.platformEnv ?? (await readPlatformEnvDir(join(inputs.platformDir, 'env'))),
    ...(inputs.buildConfigEnv ? { buildConfigEnv: inputs.buildConfigEnv } : {}),
    ...(target ? { target } : {}),
    ...(inputs.execEnv !== undefined && features.execEnv ? { execEnv: inputs.execEnv } : {}),
    ...(inputs.concurrency ? { concurrency: inputs.concurrency } : {}),
    ...(inputs.onRun ? { onRun: inputs.onRun } : {}),
  });
  const out: DetectorResult = { group: result.group, plan: result.plan, groupToml: groupToml(result.group), planToml: planToml(result.plan), runs: result.runs };
  if (inputs.layersDir !== undefined) {
    try {
      await mkdir(inputs.layersDir, { recursive: true });
      await writeFile(join(inputs.layersDir, 'group.toml'), out.groupToml);
      await writeFile(join(inputs.layersDir, 'plan.toml'), out.planToml);
    } catch (err) {
      throw new LadingError('DETECT', `${inputs.layersDir}: cannot write group.toml and plan.toml: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

/** `-b id[@version]...` as an order of one group, every buildpack required (as pack does). */
export function orderOfBuildpacks(refs: readonly { id: string; version?: string }[]): Order {
  return [refs.map((r) => ({ id: r.id, optional: false, ...(r.version ? { version: r.version } : {}) }))];
}

/**
 * Variables the lifecycle sets for one buildpack by its API (buildpack.md "Provided by the Lifecycle"):
 * CNB_TARGET_* (targets feature) and CNB_EXEC_ENV (exec-env feature, default `production`).
 */
export function lifecycleEnv(bp: BuildpackDescriptor, platform: PlatformFeatures, target: TargetEnvInput | undefined, execEnv?: string): Env {
  const f = effectiveFeatures(platform, buildpackFeatures(bp.api, bp.file));
  return {
    ...(f.targetEnv && target ? targetEnv(target) : {}),
    ...(f.execEnv ? { CNB_EXEC_ENV: execEnv ?? 'production' } : {}),
  };
}
