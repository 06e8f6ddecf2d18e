import { join } from 'node:path';
import type { BuildpackDescriptor } from './descriptor.js';
import type { Env, EnvFile } from './env-files.js';
import { buildEnvFor, type BuildpackLayerEnv } from './layer-env.js';
import { withPlatformEnv } from './process-env.js';

/** A buildpack executable to run: what a runner spawns (after an optional namespace wrapper). */
export interface Invocation {
  file: string;
  args: string[];
  cwd: string;
  env: Env;
}

export interface DetectInvocationInput {
  appDir: string;
  platformDir: string;
  /** The buildpack's env without the per-run paths (see detect.ts: platform env already applied). */
  env: Env;
  /** The fresh, empty build plan file for this run. */
  planPath: string;
}

/** `/bin/detect`: args `<platform> <plan>`, CNB_BUILDPACK_DIR, CNB_PLATFORM_DIR, CNB_BUILD_PLAN_PATH (buildpack.md "Detection"). */
export function detectInvocation(bp: BuildpackDescriptor, input: DetectInvocationInput): Invocation {
  return {
    file: join(bp.dir, 'bin', 'detect'),
    args: [input.platformDir, input.planPath],
    cwd: input.appDir,
    env: { ...input.env, CNB_BUILDPACK_DIR: bp.dir, CNB_PLATFORM_DIR: input.platformDir, CNB_BUILD_PLAN_PATH: input.planPath },
  };
}

export interface BuildInvocationInput {
  appDir: string;
  platformDir: string;
  /** `<layers>/<escaped bp id>` as the buildpack sees it. */
  layersDir: string;
  /** The file holding this buildpack's Buildpack Plan. */
  planPath: string;
  /** Filtered host env plus CNB_TARGET_* and CNB_EXEC_ENV. */
  base: Env;
  /** Build layers of the buildpacks that built before this one, in group order. */
  earlier: readonly BuildpackLayerEnv[];
  platformEnv: Env;
  buildConfigEnv?: readonly EnvFile[];
}

/**
 * `/bin/build` (buildpack.md "Build"): args `<layers> <platform> <plan>`, working dir = app dir, and the env
 * the spec defines — the base env, earlier buildpacks' build layers (buildEnvFor), the platform's user
 * variables unless clear-env, the operator's variables, then CNB_LAYERS_DIR, CNB_BP_PLAN_PATH,
 * CNB_BUILDPACK_DIR and CNB_PLATFORM_DIR.
 */
export function buildInvocation(bp: BuildpackDescriptor, input: BuildInvocationInput): Invocation {
  const layered = buildEnvFor(input.base, input.earlier);
  const env = withPlatformEnv(layered, {
    platformEnv: input.platformEnv,
    clearEnv: bp.info.clearEnv,
    ...(input.buildConfigEnv ? { buildConfigEnv: input.buildConfigEnv } : {}),
  });
  return {
    file: join(bp.dir, 'bin', 'build'),
    args: [input.layersDir, input.platformDir, input.planPath],
    cwd: input.appDir,
    env: {
      ...env,
      CNB_LAYERS_DIR: input.layersDir,
      CNB_BP_PLAN_PATH: input.planPath,
      CNB_BUILDPACK_DIR: bp.dir,
      CNB_PLATFORM_DIR: input.platformDir,
    },
  };
}
