import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildpackError, npmPurl, type SbomComponent } from '../../lib/index.js';
import { sriHex } from './runtime.js';

interface LockEntry {
  name?: string;
  version?: string;
  license?: unknown;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  resolved?: string;
  /** v1: nested entries; v2/v3: a package's dependency ranges, by name. */
  dependencies?: Record<string, LockEntry> | Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** Whether a package's `os`/`cpu` list (npm's syntax: names, `!name` exclusions) admits `value`. */
export function platformAllows(list: readonly string[] | undefined, value: string): boolean {
  if (!list || list.length === 0) return true;
  if (list.includes(`!${value}`)) return false;
  const positive = list.filter((x) => !x.startsWith('!'));
  return positive.length === 0 || positive.includes(value);
}

export interface LockfileOptions {
  /** Leave out dev dependencies (what `--omit=dev` installs). */
  omitDev: boolean;
  /** Node's architecture name (x64, arm64): optional packages for other platforms are not installed. */
  arch: string;
  /**
   * A workspace member (its `packages` key, e.g. `packages/web`) installed alone, as `npm ci --workspace
   * <member>` does: only what the member reaches is listed (see lockfileClosure). Needs a v2/v3 lockfile.
   */
  member?: string;
}

/** The lockfile key a dependency `name` of the package at `from` resolves to, as Node and npm look upwards through node_modules. */
function resolveLockPath(packages: Readonly<Record<string, LockEntry>>, from: string, name: string): string | undefined {
  for (let dir = from; ; ) {
    if (!/(^|\/)node_modules$/.test(dir)) {
      const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
      if (packages[key]) return key;
    }
    if (dir === '') return undefined;
    const i = dir.lastIndexOf('/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

/**
 * The `packages` keys of a v2/v3 lockfile that an install of one workspace member holds: the member, what its
 * dependencies, optional dependencies and (non-optional) peer dependencies resolve to, transitively, following
 * `link` entries into the members they point at; the member's own dev dependencies too unless `omitDev`.
 * Optional packages for another platform are left out, as npm leaves them out.
 */
export function lockfileClosure(packages: Readonly<Record<string, LockEntry>>, member: string, opts: LockfileOptions): Set<string> {
  const seen = new Set<string>();
  const todo = [member];
  while (todo.length) {
    const key = todo.pop()!;
    if (seen.has(key)) continue;
    const e = packages[key];
    if (!e) continue;
    if (e.optional && !(platformAllows(e.os, 'linux') && platformAllows(e.cpu, opts.arch))) continue;
    seen.add(key);
    if (e.link) {
      if (typeof e.resolved === 'string') todo.push(e.resolved);
      continue;
    }
    const ranges = (v: unknown) => (v && typeof v === 'object' ? Object.keys(v as Record<string, unknown>) : []);
    const names = [...ranges(e.dependencies), ...ranges(e.optionalDependencies), ...ranges(e.peerDependencies).filter((n) => !e.peerDependenciesMeta?.[n]?.optional)];
    if (key === member && !opts.omitDev) names.push(...ranges(e.devDependencies));
    for (const n of names) {
      const to = resolveLockPath(packages, key, n);
      if (to !== undefined) todo.push(to);
    }
  }
  return seen;
}

/**
 * SBOM components for what `npm ci` installs from a lockfile (v2/v3 `packages`; v1 nested `dependencies`),
 * so the SBOM can be written again when the modules layer is reused without its contents.
 */
export function lockfileComponents(text: string, file: string, opts: LockfileOptions): SbomComponent[] {
  let lock: { packages?: Record<string, LockEntry>; dependencies?: Record<string, LockEntry> };
  try {
    lock = JSON.parse(text);
  } catch (err) {
    throw new BuildpackError('CONFIG', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const entries: [string, LockEntry][] = [];
  if (opts.member !== undefined) {
    if (!lock.packages?.[opts.member]) throw new BuildpackError('CONFIG', `${file} has no entry for the workspace member ${opts.member} (a lockfile of npm 7 or later, lockfileVersion 2 or 3, is needed to install one member)`);
    const closure = lockfileClosure(lock.packages, opts.member, opts);
    return components(Object.entries(lock.packages).filter(([k]) => closure.has(k)));
  }
  if (lock.packages) entries.push(...Object.entries(lock.packages));
  else {
    const walk = (deps: Record<string, LockEntry> | undefined, prefix: string, depth: number) => {
      for (const [name, e] of Object.entries(deps ?? {})) {
        entries.push([`${prefix}node_modules/${name}`, { ...e, name }]);
        if (depth < 64) walk(e.dependencies as Record<string, LockEntry> | undefined, `${prefix}node_modules/${name}/`, depth + 1);
      }
    };
    walk(lock.dependencies, '', 0);
  }
  return components(entries.filter(([, e]) => !(opts.omitDev && e.dev) && (!e.optional || (platformAllows(e.os, 'linux') && platformAllows(e.cpu, opts.arch)))));
}

function components(entries: readonly [string, LockEntry][]): SbomComponent[] {
  const out: SbomComponent[] = [];
  for (const [path, e] of entries) {
    if (!path.includes('node_modules/') || e.link || typeof e.version !== 'string') continue;
    const name = e.name ?? nameFromLockPath(path);
    const c: SbomComponent = { name, version: e.version, purl: npmPurl(name, e.version), licenses: licenseList(e.license) };
    const hashes = e.integrity ? sriHex(e.integrity) : {};
    if (Object.keys(hashes).length) c.hashes = hashes;
    out.push(c);
  }
  return out;
}

/** The package name of a `packages` key of an npm lockfile: the part after the last `node_modules/`. */
export function nameFromLockPath(path: string): string {
  const i = path.lastIndexOf('node_modules/');
  return i < 0 ? path : path.slice(i + 'node_modules/'.length);
}

function licenseList(value: unknown): string[] {
  const one = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string' ? (v as { type: string }).type : undefined;
  if (Array.isArray(value)) return value.map(one).filter((x): x is string => !!x);
  const s = one(value);
  return s ? [s] : [];
}

/**
 * SBOM components for everything installed in a node_modules directory, from npm's hidden lockfile
 * (`node_modules/.package-lock.json`, which describes exactly what is on disk): `pkg:npm` purl, version,
 * the declared licence (the SDK keeps valid SPDX ids and marks anything else unknown, keeping its text)
 * and the sha512 integrity. Without a hidden lockfile, each `package.json` under node_modules is read.
 */
export async function installedPackages(nodeModules: string): Promise<SbomComponent[]> {
  let hidden: { packages?: Record<string, LockEntry> } | undefined;
  try {
    hidden = JSON.parse(await readFile(join(nodeModules, '.package-lock.json'), 'utf8'));
  } catch {
    hidden = undefined;
  }
  const entries: [string, LockEntry][] = hidden?.packages ? Object.entries(hidden.packages) : await scanPackageJsons(nodeModules);
  return components(entries);
}

async function scanPackageJsons(nodeModules: string, prefix = 'node_modules/', depth = 0): Promise<[string, LockEntry][]> {
  if (depth > 32) return [];
  const out: [string, LockEntry][] = [];
  const dirents = await readdir(nodeModules, { withFileTypes: true }).catch(() => []);
  for (const d of dirents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!d.isDirectory() || d.name.startsWith('.')) continue;
    const dirs = d.name.startsWith('@')
      ? (await readdir(join(nodeModules, d.name), { withFileTypes: true }).catch(() => [])).filter((x) => x.isDirectory()).map((x) => `${d.name}/${x.name}`)
      : [d.name];
    for (const rel of dirs) {
      try {
        const pkg = JSON.parse(await readFile(join(nodeModules, rel, 'package.json'), 'utf8')) as Record<string, unknown>;
        out.push([`${prefix}${rel}`, { name: typeof pkg['name'] === 'string' ? pkg['name'] : rel, version: pkg['version'] as string, license: pkg['license'] ?? pkg['licenses'] }]);
      } catch {
        continue;
      }
      out.push(...(await scanPackageJsons(join(nodeModules, rel, 'node_modules'), `${prefix}${rel}/node_modules/`, depth + 1)));
    }
  }
  return out;
}
