import semver from 'semver';
import { LadingError, type ErrorCode } from '../../registry/oci/index.js';

/** Buildpack API versions lading implements (design §7: API 0.12, accepting 0.10–0.12). */
export const SUPPORTED_BUILDPACK_APIS = ['0.10', '0.11', '0.12'] as const;

const API_RE = /^(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$/;

/** A CNB API version (`<major>.<minor>` or `<major>`), as a full semver string for comparisons. */
export function apiToSemver(api: string): string | undefined {
  const m = API_RE.exec(api);
  if (!m) return undefined;
  return `${m[1]}.${m[2] ?? '0'}.0`;
}

/** `<major>` → `<major>.0`; other valid versions unchanged. */
export function normalizeApi(api: string): string {
  const m = API_RE.exec(api);
  return m ? `${m[1]}.${m[2] ?? '0'}` : api;
}

/** True when `api` is a well-formed version in [min, max] (both inclusive, `<major>.<minor>` strings). */
export function apiInRange(api: string, min: string, max: string): boolean {
  const v = apiToSemver(api);
  if (!v) return false;
  return semver.gte(v, apiToSemver(min)!) && semver.lte(v, apiToSemver(max)!);
}

export function apiAtLeast(api: string, min: string): boolean {
  const v = apiToSemver(api);
  return v !== undefined && semver.gte(v, apiToSemver(min)!);
}

/**
 * Checks a buildpack's declared API against the supported range; returns it normalized. `file` is the
 * buildpack.toml that declared it, so the message says which buildpack the user must change.
 */
export function checkBuildpackApi(api: string, file: string, code: ErrorCode = 'BUILDPACK_API'): string {
  const min = SUPPORTED_BUILDPACK_APIS[0];
  const max = SUPPORTED_BUILDPACK_APIS[SUPPORTED_BUILDPACK_APIS.length - 1]!;
  if (!apiToSemver(api)) {
    throw new LadingError(code, `${file}: api "${api}" is not a Buildpack API version (expected <major>.<minor>)`);
  }
  if (!apiInRange(api, min, max)) {
    throw new LadingError(
      code,
      `${file}: Buildpack API ${api} is not supported; lading supports Buildpack API ${min} to ${max}`,
    );
  }
  return normalizeApi(api);
}
