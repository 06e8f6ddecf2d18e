import semver from 'semver';
import { selectVersionRequest, type VersionRequest } from '../../lib/index.js';
import type { GoMod } from './go-mod.js';

/** `1.21rc2` → `1.21.0-rc2`, `1.19` → `1.19.0`: Go's version spelling as semver. */
export function goSemver(v: string): string | null {
  const m = /^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?/.exec(v.trim());
  if (!m) return null;
  const pre = m[4] ? `-${m[4]}.${m[5]}` : '';
  return semver.valid(`${m[1]}.${m[2]}.${m[3] ?? '0'}${pre}`);
}

/**
 * The toolchain request, most specific first (design.md §8): BP_GO_VERSION (a semver constraint) >
 * go.mod's `toolchain` > go.mod's `go` directive > the buildpack's default. go.mod names a minimum (a newer
 * toolchain builds an older module), so its versions become `>=` constraints.
 */
export function goVersionRequest(env: string | undefined, mod: GoMod | undefined, fallback: string, file = 'go.mod'): VersionRequest {
  const atLeast = (v: string | undefined): string => {
    const s = v ? goSemver(v) : null;
    return s ? `>=${s.replace(/-.*$/, '')}` : '';
  };
  return (
    selectVersionRequest([
      { constraint: env?.trim() ?? '', source: 'BP_GO_VERSION' },
      { constraint: atLeast(mod?.toolchain), source: `${file} toolchain go${mod?.toolchain ?? ''}` },
      { constraint: atLeast(mod?.go), source: `${file} go ${mod?.go ?? ''}` },
    ]) ?? { constraint: fallback, source: 'buildpack default' }
  );
}
