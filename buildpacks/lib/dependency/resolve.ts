import semver from 'semver';
import { BuildpackError } from '../errors.js';

/** A version constraint and where it came from (for messages and `version-source`). */
export interface VersionRequest {
  constraint: string;
  /** e.g. `BP_NODE_VERSION`, `package.json engines.node`, `.nvmrc`, `buildpack default`. */
  source: string;
}

/**
 * The most specific request first (Paketo's order: env var > project file > default): the first candidate
 * with a non-empty constraint.
 */
export function selectVersionRequest(candidates: ReadonlyArray<VersionRequest | undefined>): VersionRequest | undefined {
  return candidates.find((c): c is VersionRequest => !!c && c.constraint.trim() !== '');
}

/** Semver of a source's version string: itself when valid, else the coerced leading numbers. */
export function defaultSemverOf(v: string): string | null {
  return semver.valid(v) ?? semver.coerce(v)?.version ?? null;
}

const ANY = new Set(['', '*', 'x', 'latest', 'default', 'any']);

export interface ResolveOptions {
  /** Maps a source version to semver (apt: the upstream part); default defaultSemverOf. */
  semverOf?: (version: string) => string | null;
  /** Include prereleases; default false. */
  includePrerelease?: boolean;
}

/**
 * The highest available version satisfying the request. When none does, the error lists the nearest
 * available versions around the constraint's lower bound and the newest one.
 */
export function resolveVersion(name: string, available: readonly string[], request: VersionRequest, opts: ResolveOptions = {}): string {
  const semverOf = opts.semverOf ?? defaultSemverOf;
  const raw = request.constraint.trim().replace(/^v(?=\d)/, '');
  const range = ANY.has(raw.toLowerCase()) ? '*' : semver.validRange(raw, { loose: true });
  if (!range) {
    throw new BuildpackError('DEPENDENCY_UNRESOLVED', `${name}: "${request.constraint}" (from ${request.source}) is not a semver version or range`);
  }
  const candidates = available
    .map((v) => ({ v, s: semverOf(v) }))
    .filter((x): x is { v: string; s: string } => x.s !== null && (opts.includePrerelease || semver.prerelease(x.s) === null))
    .sort((a, b) => semver.compare(a.s, b.s) || (a.v < b.v ? -1 : a.v > b.v ? 1 : 0));
  const matching = candidates.filter((c) => semver.satisfies(c.s, range, { includePrerelease: !!opts.includePrerelease }));
  const best = matching[matching.length - 1];
  if (best) return best.v;
  throw new BuildpackError('DEPENDENCY_UNRESOLVED', unresolvedMessage(name, candidates, range, request));
}

function unresolvedMessage(name: string, sorted: ReadonlyArray<{ v: string; s: string }>, range: string, request: VersionRequest): string {
  const head = `no available version of ${name} satisfies "${request.constraint}" (from ${request.source})`;
  if (sorted.length === 0) return `${head}; the source offers no versions at all`;
  const lower = semver.minVersion(range);
  let at = lower ? sorted.findIndex((c) => semver.gte(c.s, lower)) : sorted.length;
  if (at < 0) at = sorted.length;
  const near = sorted.slice(Math.max(0, at - 3), at + 3).map((c) => c.v);
  const newest = sorted[sorted.length - 1]?.v as string;
  const list = near.includes(newest) ? near : [...near, `newest ${newest}`];
  return `${head}; nearest available: ${list.join(', ')}`;
}
