import { readdir, rm, symlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  AptSource,
  BuildpackError,
  aptClosure,
  contributeLayer,
  debianSemver,
  installDebs,
  resolveVersion,
  runImagePackages,
  type BuildContext,
  type DependencyDescription,
  type InstalledPackages,
  type Layer,
  type ResolvedDeb,
  type SbomComponent,
  type VersionRequest,
} from '../../lib/index.js';
import { contributeEnsurepip } from './catalog.js';
import { compileBytecode } from './bytecode.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The interpreter in its layer: how to run it at build time and where things are in the image. */
export interface Interpreter {
  /** CPython's version, e.g. 3.11.2. */
  version: string;
  /** `3.11`. */
  minor: string;
  /** Absolute path of the interpreter binary (`<layer>/usr/bin/python3.11`). */
  python: string;
  layer: Layer;
  /** PYTHONHOME and LD_LIBRARY_PATH for running the interpreter at build time. */
  env: Record<string, string>;
  /** What the interpreter's contents depend on (package versions and checksums): part of the packages layer's key. */
  key: string[];
  /** Where it came from: Debian's packages through apt, or a catalog tarball (BP_CPYTHON_SOURCE). */
  source: 'apt' | 'catalog';
}

/** Files of the Debian packages nothing in the image reads. */
const UNUSED = ['./usr/share/doc', './usr/share/man', './usr/share/lintian', './usr/share/locale', './usr/share/info', './usr/share/bug', './usr/share/menu', './usr/share/applications', './usr/share/pixmaps', './usr/share/binfmts'];

const HINT =
  'Set BP_CPYTHON_VERSION (or .python-version, runtime.txt, requires-python) to a version apt offers here, or use a relocatable CPython: ' +
  'BP_CPYTHON_DIST_URI and BP_CPYTHON_DIST_SHA256, or [[metadata.dependencies]] with id "cpython" in buildpack.toml (docs/buildpacks/python.md).';

async function aptPythonPackages(env: Env): Promise<string[]> {
  const r = await execa('apt-cache', ['pkgnames', 'python3.'], { env: { ...env, LC_ALL: 'C' }, extendEnv: false, reject: false });
  if (r.failed && (r as { code?: string }).code === 'ENOENT') throw new BuildpackError('DEPENDENCY_FETCH', 'apt-cache is not installed: CPython from Debian packages needs apt (Debian/Ubuntu)');
  return String(r.stdout ?? '').split('\n').map((s) => s.trim()).filter((s) => /^python3\.\d+$/.test(s)).sort();
}

/** Debian's python3.<minor> package and version that satisfy the request (the highest). */
export async function resolvePython(request: VersionRequest, env: Env): Promise<{ pkg: string; debVersion: string; version: string }> {
  const apt = new AptSource({ env });
  const byVersion = new Map<string, string>();
  for (const pkg of await aptPythonPackages(env)) {
    for (const v of await apt.versions(pkg).catch((): string[] => [])) byVersion.set(v, pkg);
  }
  let debVersion: string;
  try {
    debVersion = resolveVersion('CPython (Debian python3.<minor>)', [...byVersion.keys()], request, { semverOf: debianSemver });
  } catch (err) {
    if (err instanceof BuildpackError) throw new BuildpackError(err.code, `${err.message}. ${HINT}`, { cause: err.cause });
    throw err;
  }
  return { pkg: byVersion.get(debVersion) as string, debVersion, version: debianSemver(debVersion) as string };
}

/** Run-image packages plus more (already in another layer): the closure leaves both out. */
function withInstalled(base: InstalledPackages, debs: readonly ResolvedDeb[]): InstalledPackages {
  const versions = new Map(base.versions);
  for (const d of debs) versions.set(d.name, d.version);
  return { versions, provides: base.provides, source: base.source };
}

/** `x86_64-linux-gnu`-style library directories the packages created, for LD_LIBRARY_PATH. */
async function libraryDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const base of ['usr/lib', 'lib']) {
    for (const e of await readdir(join(root, base), { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory() && /-linux-/.test(e.name)) out.push(join(root, base, e.name));
    }
  }
  return out;
}

function debComponent(d: DependencyDescription): SbomComponent {
  return { name: d.name, version: d.version, purl: d.purl, licenses: d.licenses, hashes: { sha256: d.checksum.replace(/^sha256:/, '') }, downloadLocation: d.uri };
}

/** NVD's CPE for CPython. */
export function pythonCpe(version: string): string {
  return `cpe:2.3:a:python:python:${version}:*:*:*:*:*:*:*`;
}

export interface InterpreterResult {
  interpreter: Interpreter;
  /** The interpreter as an SBOM component plus the Debian packages it came from. */
  components: SbomComponent[];
  installed: InstalledPackages;
}

/**
 * The `cpython` layer (build, launch, cache): Debian's python3.<minor> with the Depends closure the run image
 * lacks, extracted into the layer and run from there (PYTHONHOME, LD_LIBRARY_PATH), its standard library
 * compiled to unchecked-hash pycs. Reused while the closure (names, versions, apt's SHA256s) is unchanged.
 */
export async function contributeInterpreter(ctx: BuildContext, request: VersionRequest, beforeInstall: () => Promise<void> = async () => {}): Promise<InterpreterResult> {
  const env = ctx.env;
  const { pkg, debVersion, version } = await resolvePython(request, env);
  await beforeInstall();
  const minor = version.split('.').slice(0, 2).join('.');
  ctx.logger.info(`CPython ${version} (Debian ${pkg} ${debVersion}; requested "${request.constraint}" by ${request.source})`);
  const runImage = await runImagePackages(env, 'base');
  if (runImage.source === 'fallback') ctx.logger.debug('no run-image package list from the lifecycle: assuming a glibc base image');
  // dpkg (and what it pulls in) is wanted only by maintainer scripts, which never run here (readline-common's "dpkg | install-info").
  const debs = await aptClosure([pkg], { env, installed: runImage, exclude: ['dpkg', 'install-info', 'debconf', 'cdebconf'] });
  const key = debs.map((d) => `${d.name}=${d.version} sha256:${d.sha256}`);
  const self = debs.find((d) => d.name === pkg);
  if (self && self.version !== debVersion) ctx.logger.info(`  apt installs ${pkg} ${self.version} (its candidate)`);
  const { layer } = await contributeLayer(
    ctx.layers,
    'cpython',
    {
      types: { build: true, launch: true, cache: true },
      expected: { packages: key },
      build: async (l) => {
        ctx.logger.info(`  Installing ${debs.length} Debian package(s) into the layer: ${debs.map((d) => d.name).join(', ')}`);
        const described = await installDebs(debs, l.path, { env, logger: ctx.logger, exclude: UNUSED });
        l.metadata['components'] = JSON.stringify(described.map(debComponent));
        await mkdir(join(l.path, 'bin'), { recursive: true });
        for (const name of ['python', 'python3']) await symlink(`../usr/bin/python${minor}`, join(l.path, 'bin', name));
        // The regression test suite (when a package ships it) is never imported by an app.
        await rm(join(l.path, 'usr', 'lib', `python${minor}`, 'test'), { recursive: true, force: true });
        const runEnv = await runtimeEnv(l.path);
        // Debian compiles in postinst, which never runs here: compiled now, so nothing is written at run time.
        await compileBytecode(join(l.path, 'usr', 'bin', `python${minor}`), [join(l.path, 'usr', 'lib', `python${minor}`)], { ...env, ...runEnv });
        await l.env().override('PYTHONHOME', runEnv['PYTHONHOME'] as string);
        if (runEnv['LD_LIBRARY_PATH']) await l.env().prepend('LD_LIBRARY_PATH', runEnv['LD_LIBRARY_PATH'], ':');
        await l.env('launch').default('PYTHONUNBUFFERED', '1');
      },
    },
    ctx.logger,
  );
  const debComponents = JSON.parse(typeof layer.metadata['components'] === 'string' ? layer.metadata['components'] : '[]') as SbomComponent[];
  const cpython: SbomComponent = {
    name: 'cpython',
    version,
    // 'application', not 'platform': sbom/spdx.ts maps the type to an SPDX primaryPackagePurpose, which has no PLATFORM
    type: 'application',
    purl: `pkg:generic/cpython@${version}`,
    cpe: pythonCpe(version),
    licenses: ['PSF-2.0'],
    ...(self ? { hashes: { sha256: self.sha256 }, downloadLocation: `apt:${self.name}=${self.version}` } : {}),
  };
  await layer.writeSbom([cpython, ...debComponents]);
  const interpreter: Interpreter = {
    version,
    minor,
    python: join(layer.path, 'usr', 'bin', `python${minor}`),
    layer,
    env: await runtimeEnv(layer.path),
    key,
    source: 'apt',
  };
  return { interpreter, components: [cpython, ...debComponents], installed: withInstalled(runImage, debs) };
}

/** PYTHONHOME and LD_LIBRARY_PATH for running the layer's interpreter from a build process. */
async function runtimeEnv(root: string): Promise<Record<string, string>> {
  const libs = await libraryDirs(root);
  return { PYTHONHOME: join(root, 'usr'), ...(libs.length ? { LD_LIBRARY_PATH: libs.join(':') } : {}) };
}

/** pip, setuptools and wheel (Debian's, with what they need beyond the interpreter): the build-only `pip` layer. */
export interface PipToolchain {
  /** PYTHONPATH entries that make pip, setuptools and wheel importable. */
  pythonPath: string[];
  key: string[];
  components: SbomComponent[];
}

/**
 * The toolchain pip runs with. A catalog interpreter whose ensurepip bundles pip brings its own (the `ensurepip`
 * layer); what its bundle lacks of setuptools and wheel, and everything for Debian's interpreter, comes from
 * Debian's python3-pip, python3-setuptools and python3-wheel (the `pip` layer).
 */
export async function contributePip(ctx: BuildContext, interp: Interpreter, installed: InstalledPackages): Promise<PipToolchain> {
  if (interp.source === 'catalog') {
    const own = await contributeEnsurepip(ctx, interp);
    if (own) {
      const missing = ['setuptools', 'wheel'].filter((n) => !own.provides.includes(n));
      ctx.logger.info(`  pip from CPython ${interp.version}'s own ensurepip (${own.components.map((c) => `${c.name} ${c.version}`).join(', ')})${missing.length ? `; ${missing.join(' and ')} from Debian` : ''}`);
      const rest = missing.length ? await contributeDebianPip(ctx, interp, installed, missing.map((n) => `python3-${n}`)) : undefined;
      return {
        pythonPath: [own.pythonPath, ...(rest?.pythonPath ?? [])],
        key: [...own.key, ...(rest?.key ?? [])],
        components: [...own.components, ...(rest?.components ?? [])],
      };
    }
    ctx.logger.info(`  CPython ${interp.version} bundles no ensurepip wheels: pip, setuptools and wheel from Debian`);
  } else {
    ctx.logger.info('  pip, setuptools and wheel from Debian');
  }
  return contributeDebianPip(ctx, interp, installed, ['python3-pip', 'python3-setuptools', 'python3-wheel']);
}

async function contributeDebianPip(ctx: BuildContext, interp: Interpreter, installed: InstalledPackages, roots: string[]): Promise<PipToolchain> {
  const minor = interp.minor;
  const debs = await aptClosure(roots, {
    env: ctx.env,
    installed,
    // The python3 meta packages pick the distribution's default interpreter; ours is in the cpython layer.
    // pip reads the CA bundle the build machine trusts (design.md §7).
    exclude: ['python3', 'python3-minimal', 'libpython3-stdlib', `python${minor}`, `python${minor}-minimal`, 'ca-certificates'],
  });
  const key = debs.map((d) => `${d.name}=${d.version} sha256:${d.sha256}`);
  const { layer } = await contributeLayer(
    ctx.layers,
    'pip',
    {
      types: { build: true, cache: true },
      expected: { packages: key },
      build: async (l) => {
        const described = await installDebs(debs, l.path, { env: ctx.env, logger: ctx.logger, exclude: UNUSED });
        l.metadata['components'] = JSON.stringify(described.map(debComponent));
      },
    },
    ctx.logger,
  );
  const components = JSON.parse(typeof layer.metadata['components'] === 'string' ? layer.metadata['components'] : '[]') as SbomComponent[];
  return {
    pythonPath: [join(layer.path, 'usr', 'lib', 'python3', 'dist-packages'), join(layer.path, 'usr', 'lib', `python${minor}`)],
    key,
    components,
  };
}
