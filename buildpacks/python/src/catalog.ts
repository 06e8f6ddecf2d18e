import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import {
  BuildpackError,
  CatalogSource,
  catalogFromMetadata,
  distOverride,
  contributeLayer,
  extractTarGz,
  fetchCached,
  hashFile,
  resolveVersion,
  runImagePackages,
  type BuildContext,
  type CatalogEntry,
  type DependencyDescription,
  type SbomComponent,
  type TomlTable,
  type VersionRequest,
} from '../../lib/index.js';
import { compileBytecode } from './bytecode.js';
import { installedDistributions, normaliseName } from './distributions.js';
import type { Interpreter, InterpreterResult } from './interpreter.js';

export type CPythonSourceKind = 'apt' | 'catalog';

const HINT =
  'To use another CPython: set BP_CPYTHON_VERSION to a version the catalog lists, point at a relocatable CPython ' +
  'tarball with BP_CPYTHON_DIST_URI and BP_CPYTHON_DIST_SHA256, add a [[metadata.dependencies]] entry with id "cpython" ' +
  "to the buildpack's buildpack.toml, or set BP_CPYTHON_SOURCE=apt for Debian's packages (docs/buildpacks/python.md).";

/** `3.11.2` in the usual names of relocatable builds: cpython-3.11.2+20230507-x86_64-…tar.gz, python-3.11.2-….tar.gz. */
const NAMED = /(?:^|[/-])(?:c?python)-?(\d+\.\d+\.\d+)(?=[+_.-])/i;

/** Catalog entries for `cpython`: buildpack.toml `[[metadata.dependencies]]` plus BP_CPYTHON_DIST_URI/BP_CPYTHON_DIST_SHA256. */
export function cpythonCatalog(metadata: TomlTable, env: { uri?: string | undefined; sha256?: string | undefined; version?: string | undefined }): CatalogEntry[] {
  const entries = catalogFromMetadata(metadata).filter((e) => e.name === 'cpython');
  const dist = distOverride('BP_CPYTHON', env.uri, env.sha256);
  if (!dist) return entries;
  const { uri, sha256 } = dist;
  const named = NAMED.exec(dist.fileName)?.[1];
  const exact = env.version?.trim();
  const version = named ?? (exact && /^\d+\.\d+\.\d+$/.test(exact) ? exact : undefined);
  if (!version) {
    throw new BuildpackError('CONFIG', `BP_CPYTHON_DIST_URI ${uri}: cannot tell the CPython version from the file name (cpython-3.11.2-….tar.gz); set BP_CPYTHON_VERSION to the exact version (3.11.2)`);
  }
  return [{ name: 'cpython', version, uri, sha256, licenses: ['PSF-2.0'] }, ...entries];
}

/** BP_CPYTHON_SOURCE; default: catalog when there are catalog entries, else apt. */
export function cpythonSourceKind(kind: string | undefined, catalog: readonly CatalogEntry[]): CPythonSourceKind {
  const k = (kind ?? '').trim().toLowerCase();
  if (k === 'apt' || k === 'catalog') {
    if (k === 'catalog' && catalog.length === 0) {
      throw new BuildpackError('CONFIG', 'BP_CPYTHON_SOURCE=catalog but there is no catalog entry: set BP_CPYTHON_DIST_URI and BP_CPYTHON_DIST_SHA256, or add [[metadata.dependencies]] with id "cpython" to buildpack.toml');
    }
    return k;
  }
  if (k !== '') throw new BuildpackError('CONFIG', `BP_CPYTHON_SOURCE=${kind}: must be apt or catalog`);
  return catalog.length > 0 ? 'catalog' : 'apt';
}

/** A CPython version as semver: `3.13.0rc1` → `3.13.0-rc1` (a prerelease, as semver reads `3.13.0rc1` loosely). */
export function cpythonSemver(v: string): string | null {
  const m = /^(\d+\.\d+\.\d+)(?:(a|b|rc)(\d+))?$/.exec(v.trim());
  if (!m) return null;
  return m[2] ? `${m[1] as string}-${m[2]}${m[3] as string}` : (m[1] as string);
}

/** The catalog's CPython version satisfying the request (the highest); the error lists what the catalog has. */
export function resolveCatalogPython(request: VersionRequest, catalog: readonly CatalogEntry[]): string {
  const versions = [...new Set(catalog.filter((e) => e.name === 'cpython').map((e) => e.version))];
  try {
    // A prerelease (3.13.0rc1) only when the request names one.
    return resolveVersion('CPython (catalog)', versions, request, { semverOf: cpythonSemver, includePrerelease: /\d(a|b|rc)\d/.test(request.constraint) });
  } catch (err) {
    if (err instanceof BuildpackError) {
      throw new BuildpackError(err.code, `${err.message}. The catalog has: ${versions.join(', ') || 'nothing'}. ${HINT}`, { cause: err.cause });
    }
    throw err;
  }
}

/**
 * The interpreter's root in an extracted tarball: the directory whose `bin/python3` exists, at the top or up
 * to three levels down (`python/`, `python/install/`, `install/`), the shallowest first.
 */
export async function findPythonRoot(dir: string, archive: string): Promise<string> {
  let level = [dir];
  for (let depth = 0; depth <= 3; depth++) {
    const next: string[] = [];
    for (const d of level.sort()) {
      if (await lstat(join(d, 'bin', 'python3')).then(() => true, () => false)) return d;
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) next.push(join(d, e.name));
    }
    level = next;
  }
  throw new BuildpackError('DEPENDENCY_INTEGRITY', `${archive}: no bin/python3 in the archive (looked at its top and three levels down, e.g. python/bin/python3): not a relocatable CPython build`);
}

/** The pip, setuptools and wheel the interpreter's own ensurepip bundles (`lib/python3.X/ensurepip/_bundled/*.whl`). */
export async function ensurepipWheels(root: string, minor: string): Promise<Record<string, string>> {
  const dir = join(root, 'lib', `python${minor}`, 'ensurepip', '_bundled');
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir).catch((): string[] => [])).sort()) {
    const m = /^([A-Za-z0-9_.]+?)-[^-]+-.*\.whl$/.exec(f);
    if (m) out[(m[1] as string).toLowerCase()] = join(dir, f);
  }
  return out;
}

/** Library directories of the tree for LD_LIBRARY_PATH: `lib/` when it holds shared libraries, and `lib/<triplet>`. */
async function libraryDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(root, 'lib'), { withFileTypes: true }).catch(() => []);
  if (entries.some((e) => !e.isDirectory() && /^lib.*\.so(\.|$)/.test(e.name))) out.push(join(root, 'lib'));
  for (const e of entries) if (e.isDirectory() && /-linux-/.test(e.name)) out.push(join(root, 'lib', e.name));
  return out;
}

async function catalogEnv(root: string): Promise<Record<string, string>> {
  const libs = await libraryDirs(root);
  return { PYTHONHOME: root, ...(libs.length ? { LD_LIBRARY_PATH: libs.join(':') } : {}) };
}

function catalogComponent(d: DependencyDescription, version: string): SbomComponent {
  return {
    name: 'cpython',
    version,
    type: 'application',
    purl: d.purl,
    cpe: d.cpe ?? `cpe:2.3:a:python:python:${version}:*:*:*:*:*:*:*`,
    licenses: d.licenses.length ? d.licenses : ['PSF-2.0'],
    hashes: { sha256: d.checksum.replace(/^sha256:/, '') },
    downloadLocation: d.uri,
  };
}

/**
 * The `cpython` layer (build, launch, cache) from a catalog tarball: verified against its sha256, kept in the
 * `download-cpython` cache layer, extracted, its root (the directory with bin/python3) made the layer, run with
 * PYTHONHOME=<layer> (and LD_LIBRARY_PATH when it brings shared libraries), its standard library compiled to
 * unchecked-hash pycs. Reused while the version and sha256 are unchanged.
 */
export async function contributeCatalogInterpreter(ctx: BuildContext, request: VersionRequest, catalog: readonly CatalogEntry[], beforeInstall: () => Promise<void> = async () => {}): Promise<InterpreterResult> {
  const source = new CatalogSource({ entries: catalog.filter((e) => e.name === 'cpython') });
  const version = resolveCatalogPython(request, catalog);
  const d = await source.describe('cpython', version);
  await beforeInstall();
  ctx.logger.info(`CPython ${version} (catalog: ${d.uri}; requested "${request.constraint}" by ${request.source})`);
  let file: string;
  try {
    file = (await fetchCached(ctx.layers, source, 'cpython', version, ctx.logger)).path;
  } catch (err) {
    if (err instanceof BuildpackError && err.code === 'DEPENDENCY_INTEGRITY') throw new BuildpackError(err.code, `${d.uri}: ${err.message}`, { cause: err });
    throw err;
  }
  const key = [`cpython=${version} ${d.checksum}`];
  const { layer } = await contributeLayer(
    ctx.layers,
    'cpython',
    {
      types: { build: true, launch: true, cache: true },
      expected: { source: 'catalog', version, checksum: d.checksum },
      build: async (l) => {
        const work = join(l.path, '.extract');
        await extractTarGz(file, work);
        const root = await findPythonRoot(work, d.uri);
        for (const e of await readdir(root)) await rename(join(root, e), join(l.path, e));
        await rm(work, { recursive: true, force: true });
        const target = await readlink(join(l.path, 'bin', 'python3')).catch((): undefined => undefined);
        const exe = join(l.path, 'bin', target && !target.includes('/') ? target : 'python3');
        const runEnv = await catalogEnv(l.path);
        // No pycs from this run: they would record the extraction time, and compileall keeps a pyc that is current.
        const probe = await execa(exe, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { env: { ...runEnv, PYTHONDONTWRITEBYTECODE: '1' }, extendEnv: false, reject: false });
        if (probe.exitCode !== 0) {
          throw new BuildpackError('DEPENDENCY_INTEGRITY', `${d.uri}: bin/python3 does not run from ${l.path} (exit ${String(probe.exitCode)}): ${String(probe.stderr || probe.stdout).trim().split('\n').slice(-3).join('\n') || (probe as { shortMessage?: string }).shortMessage || ''}`);
        }
        const actual = String(probe.stdout).trim();
        if (actual !== version) throw new BuildpackError('DEPENDENCY_INTEGRITY', `${d.uri}: the catalog says CPython ${version}, but its bin/python3 is ${actual}`);
        const minor = actual.split('.').slice(0, 2).join('.');
        if (!(await lstat(join(l.path, 'bin', 'python')).then(() => true, () => false))) await symlink(basename(exe), join(l.path, 'bin', 'python'));
        await rm(join(l.path, 'lib', `python${minor}`, 'test'), { recursive: true, force: true });
        await compileBytecode(exe, [join(l.path, 'lib', `python${minor}`)], { ...ctx.env, ...runEnv });
        l.metadata['python'] = basename(exe);
        await l.env().override('PYTHONHOME', runEnv['PYTHONHOME'] as string);
        if (runEnv['LD_LIBRARY_PATH']) await l.env().prepend('LD_LIBRARY_PATH', runEnv['LD_LIBRARY_PATH'], ':');
        await l.env('launch').default('PYTHONUNBUFFERED', '1');
      },
    },
    ctx.logger,
  );
  const cpython = catalogComponent(d, version);
  await layer.writeSbom([cpython]);
  const exeName = typeof layer.metadata['python'] === 'string' ? layer.metadata['python'] : 'python3';
  const minor = version.split('.').slice(0, 2).join('.');
  const interpreter: Interpreter = { version, minor, python: join(layer.path, 'bin', exeName), layer, env: await catalogEnv(layer.path), key, source: 'catalog' };
  return { interpreter, components: [cpython], installed: await runImagePackages(ctx.env, 'base') };
}

/**
 * pip (and setuptools, wheel when bundled) from the interpreter's own ensurepip, unpacked into the build-only
 * `ensurepip` layer (build, cache). Returns its PYTHONPATH entry, reuse key, SBOM components and the
 * distributions it provides; undefined when the interpreter bundles no pip wheel.
 */
export async function contributeEnsurepip(ctx: BuildContext, interp: Interpreter): Promise<{ pythonPath: string; key: string[]; components: SbomComponent[]; provides: string[] } | undefined> {
  const wheels = await ensurepipWheels(join(interp.layer.path), interp.minor);
  if (!wheels['pip']) return undefined;
  const names = Object.keys(wheels).sort();
  const described: SbomComponent[] = [];
  for (const n of names) {
    const f = wheels[n] as string;
    const version = /^[^-]+-([^-]+)-/.exec(basename(f))?.[1] ?? '';
    const sha256 = (await hashFile(f, ['sha256']))['sha256'] as string;
    described.push({ name: n, version, purl: `pkg:pypi/${n}@${version}`, hashes: { sha256 }, licenses: [] });
  }
  const key = described.map((c) => `${c.name}=${c.version} sha256:${c.hashes?.['sha256'] ?? ''}`);
  const { layer } = await contributeLayer(
    ctx.layers,
    'ensurepip',
    {
      types: { build: true, cache: true },
      expected: { wheels: key },
      build: async (l) => {
        const dest = join(l.path, 'site-packages');
        await mkdir(dest, { recursive: true });
        for (const n of names) {
          const r = await execa(interp.python, ['-m', 'zipfile', '-e', wheels[n] as string, dest], { env: interp.env, extendEnv: false, reject: false });
          if (r.exitCode !== 0) throw new BuildpackError('BUILD_FAILED', `unpacking ensurepip's ${basename(wheels[n] as string)} failed: ${String(r.stderr).trim()}`);
        }
      },
    },
    ctx.logger,
  );
  // Licences from the unpacked wheels' METADATA (License-Expression, classifiers), as for the app's distributions.
  const licensed = new Map((await installedDistributions(join(layer.path, 'site-packages'))).map((x) => [x.name, x.component.licenses ?? []]));
  const components = described.map((c) => ({ ...c, licenses: licensed.get(normaliseName(c.name)) ?? [] }));
  return { pythonPath: join(layer.path, 'site-packages'), key, components, provides: names };
}
