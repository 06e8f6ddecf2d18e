import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { BuildpackError } from '../errors.js';
import type { Logger } from '../logger.js';
import { debPurl, parseAptRecords, type AptRecord } from './apt-source.js';
import { DownloadStore } from './download-store.js';
import { verifyFile } from './integrity.js';
import type { DependencyDescription } from './source.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The Debian packages a run image already has: what a runtime layer built from Debian packages need not bring.
 * lading's lifecycle hands them to buildpacks as dpkg status files, one per run-image flavor, in the directory
 * named by `LADING_RUN_IMAGE_PACKAGES` (`base.status`, `static.status`; docs/buildpacks/authoring).
 */
export interface InstalledPackages {
  /** Package name → version. */
  readonly versions: ReadonlyMap<string, string>;
  /** Virtual package names the installed packages provide. */
  readonly provides: ReadonlySet<string>;
  /**
   * Where the list came from: the status file, or `fallback` when no lifecycle provided one (another
   * lifecycle): then the closure assumes a glibc base image (see {@link aptClosure}).
   */
  readonly source: string;
}

/** The variable naming the directory of run-image package lists (a lading extension of the platform contract). */
export const RUN_IMAGE_PACKAGES_ENV = 'LADING_RUN_IMAGE_PACKAGES';

/** Parses a dpkg status file (or status.d records) into installed packages; records not installed are skipped. */
export function parseInstalledPackages(text: string, source: string): InstalledPackages {
  const versions = new Map<string, string>();
  const provides = new Set<string>();
  for (const rec of parseAptRecords(text)) {
    const name = rec['Package'];
    if (!name) continue;
    const status = rec['Status'];
    if (status !== undefined && !/\binstalled$/.test(status.trim())) continue;
    versions.set(name, rec['Version'] ?? '');
    for (const p of (rec['Provides'] ?? '').split(',')) {
      const virtual = p.trim().split(/\s|\(/)[0];
      if (virtual) provides.add(virtual);
    }
  }
  return { versions, provides, source };
}

/**
 * The packages of the run image of `flavor` (default `base`), from `$LADING_RUN_IMAGE_PACKAGES/<flavor>.status`.
 * Without that variable the result is empty with source `fallback` (see {@link aptClosure}). A variable naming
 * a directory without that flavor's file is an error: the buildpack asked for a run image the builder lacks.
 */
export async function runImagePackages(env: Env, flavor = 'base'): Promise<InstalledPackages> {
  const dir = env[RUN_IMAGE_PACKAGES_ENV];
  if (!dir) return { versions: new Map(), provides: new Set(), source: 'fallback' };
  const file = join(dir, `${flavor}.status`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const have = await readdir(dir).catch((): string[] => []);
    const flavors = have.filter((f) => f.endsWith('.status')).map((f) => f.slice(0, -'.status'.length));
    throw new BuildpackError('DEPENDENCY_UNRESOLVED', `${file}: no package list for the run image flavor "${flavor}" (the builder has: ${flavors.join(', ') || 'none'})`, { cause: err });
  }
  return parseInstalledPackages(text, file);
}

/** One Debian package of a closure, as apt's candidate records it. */
export interface ResolvedDeb {
  name: string;
  version: string;
  arch: string;
  /** Hex SHA256 apt records for the .deb. */
  sha256: string;
}

export interface AptClosureOptions {
  env?: Env;
  /** What the run image has; dependencies it satisfies are left out (and not followed). */
  installed: InstalledPackages;
  /** Packages never included nor followed (e.g. ones whose only job is a maintainer script). */
  exclude?: readonly string[];
}

/** One `Depends`/`PreDepends` line group: alternatives, each a real package or a virtual one with providers. */
type DepGroup = { name: string; providers: string[] }[];

/** Parses `apt-cache depends --recurse` output into package → dependency groups. */
export function parseAptDepends(text: string): Map<string, DepGroup[]> {
  const graph = new Map<string, DepGroup[]>();
  let current: DepGroup[] | undefined;
  let group: DepGroup = [];
  let last: { name: string; providers: string[] } | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      const name = line.trim();
      current = name.startsWith('<') ? undefined : [];
      if (current && !graph.has(name)) graph.set(name, current);
      group = [];
      last = undefined;
      continue;
    }
    const dep = /^ (\|| )(PreDepends|Depends): (.+)$/.exec(line);
    if (dep && current) {
      const target = (dep[3] as string).trim();
      const alt = { name: target.replace(/^<|>$/g, ''), providers: [] as string[] };
      group.push(alt);
      last = target.startsWith('<') ? alt : undefined;
      if (dep[1] !== '|') {
        current.push(group);
        group = [];
      }
      continue;
    }
    if (/^ {4}\S/.test(line) && last) last.providers.push(line.trim());
  }
  return graph;
}

async function run(cmd: string, args: string[], env: Env | undefined, cwd?: string): Promise<string> {
  const { execa } = await import('execa');
  try {
    return (await execa(cmd, args, { ...(cwd ? { cwd } : {}), env: { ...(env ?? process.env), LC_ALL: 'C' }, extendEnv: false, timeout: 600_000, maxBuffer: 256 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; shortMessage?: string; code?: string };
    if (e.code === 'ENOENT') throw new BuildpackError('DEPENDENCY_FETCH', `${cmd} is not installed: Debian packages as a dependency source need apt (Debian/Ubuntu)`, { cause: err });
    const detail = (e.stderr ?? '').trim().split('\n').slice(-3).join(' ') || e.shortMessage;
    throw new BuildpackError('DEPENDENCY_FETCH', `${cmd} ${args.slice(0, 8).join(' ')}${args.length > 8 ? ' …' : ''} failed: ${detail}`, { cause: err });
  }
}

const DEPENDS_FLAGS = ['--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances'];

/** apt's candidate record of each package (one `apt-cache show --no-all-versions` for all of them). */
async function candidates(names: string[], env: Env | undefined): Promise<Map<string, AptRecord>> {
  const out = new Map<string, AptRecord>();
  if (names.length === 0) return out;
  for (const rec of parseAptRecords(await run('apt-cache', ['show', '--no-all-versions', ...names], env))) {
    const name = rec['Package'];
    if (name && !out.has(name)) out.set(name, rec);
  }
  return out;
}

function walk(roots: readonly string[], graph: Map<string, DepGroup[]>, installed: InstalledPackages, exclude: ReadonlySet<string>): string[] {
  const has = (n: string) => installed.versions.has(n) || installed.provides.has(n);
  const chosen = new Set<string>();
  // a root the run image already has needs nothing either
  const queue = roots.filter((r) => !has(r));
  while (queue.length > 0) {
    const name = queue.shift() as string;
    if (chosen.has(name) || exclude.has(name)) continue;
    if (!graph.has(name)) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `apt knows no package ${name} (apt-cache depends lists nothing; is "apt-get update" needed?)`);
    chosen.add(name);
    for (const group of graph.get(name) as DepGroup[]) {
      const names = group.flatMap((alt) => [alt.name, ...alt.providers]);
      if (names.some((n) => has(n) || chosen.has(n) || exclude.has(n))) continue;
      // the first alternative apt can install: a real package, else the first provider of a virtual one
      const pick = group.map((alt) => (graph.has(alt.name) ? alt.name : alt.providers.find((p) => graph.has(p)))).find((n) => n !== undefined);
      if (!pick) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `${name} depends on ${group.map((a) => a.name).join(' | ')}, which apt cannot provide`);
      queue.push(pick);
    }
  }
  return [...chosen];
}

/**
 * The Depends/Pre-Depends closure of `roots` through the machine's apt metadata (one `apt-cache depends
 * --recurse`), leaving out what the run image has: an installed package (root or dependency) is neither
 * included nor followed, and
 * an alternative or virtual dependency the run image satisfies needs nothing. Versions are apt's candidates.
 * With the `fallback` installed list (no lifecycle told us the run image), a glibc base image is assumed:
 * libc6 and its dependencies, Debian's Essential and Priority: required packages count as installed.
 * The result is sorted by name.
 */
export async function aptClosure(roots: readonly string[], opts: AptClosureOptions): Promise<ResolvedDeb[]> {
  if (roots.length === 0) return [];
  const graph = parseAptDepends(await run('apt-cache', ['depends', ...DEPENDS_FLAGS, ...roots], opts.env));
  const exclude = new Set(opts.exclude ?? []);
  let installed = opts.installed;
  let names = walk(roots, graph, installed, exclude);
  const records = await candidates(names, opts.env);
  if (installed.source === 'fallback') {
    // a glibc base image: libc6 and what it needs, plus Debian's Essential and required packages
    const libc = graph.has('libc6') ? walk(['libc6'], graph, opts.installed, exclude) : [];
    const base = [...records.values()].filter((r) => r['Essential'] === 'yes' || r['Priority'] === 'required').map((r) => r['Package'] as string);
    installed = { versions: new Map([...libc, ...base].map((n) => [n, records.get(n)?.['Version'] ?? ''])), provides: new Set(), source: 'fallback' };
    names = walk(roots, graph, installed, exclude);
  }
  const debs = names.map((name): ResolvedDeb => {
    const rec = records.get(name);
    if (!rec?.['Version'] || !rec['SHA256'] || !rec['Architecture']) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `apt has no downloadable candidate with a SHA256 for ${name}`);
    return { name, version: rec['Version'], arch: rec['Architecture'], sha256: rec['SHA256'] };
  });
  return debs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface InstallDebsOptions {
  env?: Env;
  logger?: Logger;
  /** Keep the downloaded .debs here (e.g. a cache=true layer's path); verified ones are not downloaded again. */
  cacheDir?: string;
  /** tar `--exclude` patterns for the packages' files, e.g. `./usr/share/doc`. */
  exclude?: readonly string[];
  /** The distribution for purls (default: /etc/os-release). */
  distro?: { id: string; versionId?: string };
}

async function hostDistro(): Promise<{ id: string; versionId?: string }> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1]?.replace(/^"|"$/g, '');
  const versionId = get('VERSION_ID');
  return versionId ? { id: get('ID') || 'debian', versionId } : { id: get('ID') || 'debian' };
}

/** `<name>_<version without epoch>_<arch>.deb`, the name `apt-get download` gives (':' escaped as %3a). */
function debFileName(d: ResolvedDeb): string {
  return `${d.name}_${d.version.replace(/:/g, '%3a')}_${d.arch}.deb`;
}

/** Downloads the .debs apt-get does not have yet (one `apt-get download`) and verifies every one. */
async function download(debs: readonly ResolvedDeb[], dir: string, env: Env | undefined, logger: Logger | undefined): Promise<Map<string, string>> {
  await mkdir(dir, { recursive: true });
  const files = new Map<string, string>();
  const missing: ResolvedDeb[] = [];
  const store = DownloadStore.fromEnv(env ?? process.env);
  for (const d of debs) {
    const file = join(dir, debFileName(d));
    const expected = { algorithm: 'sha256', hex: d.sha256 } as const;
    const ok = await verifyFile(file, expected, `${d.name}=${d.version}`).then(() => true, () => false);
    if (ok || (await store?.take(expected, file, `Debian package ${d.name}=${d.version}`))) files.set(d.name, file);
    else missing.push(d);
  }
  if (missing.length > 0) {
    logger?.info(`Downloading ${missing.length} Debian package${missing.length === 1 ? '' : 's'} through apt`);
    await run('apt-get', ['download', '-q', ...missing.map((d) => `${d.name}=${d.version}`)], env, dir);
    for (const d of missing) {
      const file = join(dir, debFileName(d));
      try {
        await verifyFile(file, { algorithm: 'sha256', hex: d.sha256 }, `Debian package ${d.name}=${d.version} (apt SHA256)`);
        await store?.keep({ algorithm: 'sha256', hex: d.sha256 }, file);
      } catch (err) {
        await rm(file, { force: true });
        throw err;
      }
      files.set(d.name, file);
    }
  }
  return files;
}

/** Rewrites absolute symlinks whose target exists inside `root` (as the package laid it out) to relative ones. */
async function relativizeLinks(root: string, dir = root): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await relativizeLinks(root, path);
    else if (entry.isSymbolicLink()) {
      const target = await readlink(path);
      if (!target.startsWith('/')) continue;
      const inside = join(root, target);
      if (!(await lstat(inside).then(() => true, () => false))) continue;
      await rm(path);
      await symlink(relative(dirname(path), inside) || '.', path);
    }
  }
}

/**
 * Downloads `debs` (verified against apt's SHA256) and extracts each package's files into `dest` as the package
 * lays them out (`dest/usr/lib/…`); absolute symlinks that point inside the extracted tree become relative, so
 * the tree works wherever the layer is mounted. No maintainer script runs. Returns one SBOM-ready description
 * per package (purl `pkg:deb/<distro>/…`), in the order given.
 */
export async function installDebs(debs: readonly ResolvedDeb[], dest: string, opts: InstallDebsOptions = {}): Promise<DependencyDescription[]> {
  const dir = opts.cacheDir ?? (await mkdtemp(join(tmpdir(), 'lading-debs-')));
  const files = await download(debs, dir, opts.env, opts.logger);
  await mkdir(dest, { recursive: true });
  const { execa } = await import('execa');
  for (const d of debs) {
    const deb = files.get(d.name) as string;
    try {
      await execa('dpkg-deb', ['--fsys-tarfile', deb], { timeout: 600_000, buffer: false }).pipe('tar', ['-x', '--no-same-owner', '-C', dest, ...(opts.exclude ?? []).map((e) => `--exclude=${e}`)], { timeout: 600_000 });
    } catch (err) {
      throw new BuildpackError('DEPENDENCY_FETCH', `extracting ${deb} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
    }
  }
  if (!opts.cacheDir) await rm(dir, { recursive: true, force: true });
  await relativizeLinks(dest);
  const distro = opts.distro ?? (await hostDistro());
  return debs.map((d) => ({
    name: d.name,
    version: d.version,
    checksum: `sha256:${d.sha256}`,
    uri: `apt:${d.name}=${d.version}`,
    purl: debPurl(d.name, d.version, d.arch, distro),
    licenses: [],
    source: 'apt',
  }));
}
