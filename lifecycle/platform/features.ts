import { LadingError } from '../../registry/oci/index.js';
import { apiAtLeast, apiInRange, apiToSemver, checkBuildpackApi, normalizeApi, SUPPORTED_BUILDPACK_APIS } from '../buildpack/index.js';

/** Platform API versions lading's phases implement; 0.15 is the spec in reference/cnb-spec/platform.md. */
export const SUPPORTED_PLATFORM_APIS = ['0.12', '0.13', '0.14', '0.15'] as const;
export const DEFAULT_PLATFORM_API = '0.15';

/**
 * What a Platform API version turns on. Phases branch on these flags, never on version numbers
 * (style.md "Branch on features, not version numbers").
 */
export interface PlatformFeatures {
  api: string;
  /** `io.buildpacks.exec-env` label and `CNB_EXEC_ENV` to detect/build (0.15). */
  execEnv: boolean;
  /** Targets from the run image (run.toml, `CNB_TARGET_*`, detect fails a group on a target mismatch) (0.12). */
  targets: boolean;
  /** `created` from SOURCE_DATE_EPOCH (0.9). */
  sourceDateEpoch: boolean;
  /** `command` in the build metadata label is an array (0.10). */
  processCommandArray: boolean;
}

/** What a buildpack's API version turns on, per buildpack. */
export interface BuildpackFeatures {
  api: string;
  /** `CNB_TARGET_*` in the detect/build env (0.10). */
  targetEnv: boolean;
  /** `CNB_EXEC_ENV`, and `exec-env` on processes, layers and order entries (0.12). */
  execEnv: boolean;
  /** User args replace a process's `args` instead of appending (0.9). */
  overridableArgs: boolean;
  /** Env files without a suffix override (0.5); always true in the supported range. */
  envOverrideByDefault: boolean;
  /** Deprecated positional args to bin/detect and bin/build are still passed (the samples use them). */
  positionalArgs: boolean;
}

/** Features of a Platform API version; throws PLATFORM_API naming the supported range. */
export function platformFeatures(api: string = DEFAULT_PLATFORM_API): PlatformFeatures {
  const min = SUPPORTED_PLATFORM_APIS[0];
  const max = SUPPORTED_PLATFORM_APIS[SUPPORTED_PLATFORM_APIS.length - 1]!;
  if (!apiToSemver(api) || !apiInRange(api, min, max)) {
    throw new LadingError('PLATFORM_API', `Platform API ${api} is not supported; lading supports Platform API ${min} to ${max}`);
  }
  return {
    api: normalizeApi(api),
    execEnv: apiAtLeast(api, '0.15'),
    targets: apiAtLeast(api, '0.12'),
    sourceDateEpoch: apiAtLeast(api, '0.9'),
    processCommandArray: apiAtLeast(api, '0.10'),
  };
}

/**
 * Features of one buildpack's API version. `file` names the buildpack.toml in the BUILDPACK_API error.
 * Effective flags that need both sides (e.g. CNB_EXEC_ENV needs a 0.15 platform and a 0.12 buildpack) are
 * combined by `effectiveFeatures`.
 */
export function buildpackFeatures(api: string, file = 'buildpack.toml'): BuildpackFeatures {
  const v = checkBuildpackApi(api, file);
  return {
    api: v,
    targetEnv: apiAtLeast(v, '0.10'),
    execEnv: apiAtLeast(v, '0.12'),
    overridableArgs: apiAtLeast(v, '0.9'),
    envOverrideByDefault: apiAtLeast(v, '0.5'),
    positionalArgs: true,
  };
}

/** The flags one buildpack run uses, given both APIs: computed once per buildpack, read by the phases. */
export function effectiveFeatures(platform: PlatformFeatures, buildpack: BuildpackFeatures): BuildpackFeatures {
  return {
    ...buildpack,
    targetEnv: buildpack.targetEnv && platform.targets,
    execEnv: buildpack.execEnv && platform.execEnv,
  };
}

export { SUPPORTED_BUILDPACK_APIS };
