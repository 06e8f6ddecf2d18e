import { copyFile, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { aptClosure, BuildpackError, installDebs, runImagePackages, shellWords, type DependencyDescription, type Logger } from '../../lib/index.js';
import { elfDynamic } from './elf.js';

/** Modules a jdeps scan cannot see but apps need at run time: TLS with EC keys, zip file systems. */
export const ALWAYS_MODULES = ['jdk.crypto.ec', 'jdk.zipfs'];
/** When jdeps cannot tell (reflection-heavy or unreadable classes): the Java SE modules and the runtime jdk.* ones, no compiler. */
export const FALLBACK_MODULES = ['java.se', 'jdk.charsets', 'jdk.crypto.cryptoki', 'jdk.crypto.ec', 'jdk.httpserver', 'jdk.jfr', 'jdk.localedata', 'jdk.management', 'jdk.management.agent', 'jdk.naming.dns', 'jdk.net', 'jdk.unsupported', 'jdk.zipfs'];
export const DEFAULT_JLINK_ARGUMENTS = '--no-man-pages --no-header-files --strip-debug --compress=1';

const run = async (cmd: string, args: string[], what: string) => {
  const r = await execa(cmd, args, { all: true, reject: false, timeout: 600_000, env: { LC_ALL: 'C', PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, extendEnv: false });
  if (r.exitCode !== 0) throw new BuildpackError('BUILD_FAILED', `${what}: ${basename(cmd)} ${args.join(' ')} failed (exit ${r.exitCode ?? 'signal'}):\n${String(r.all ?? '').trim()}`);
  return String(r.stdout ?? '');
};

/**
 * The modules the app needs, from `jdeps --print-module-deps` over its classes and libraries, plus ALWAYS_MODULES.
 * When jdeps fails, FALLBACK_MODULES (logged, never silent).
 */
export async function requiredModules(javaHome: string, feature: number, targets: string[], classPath: string[], logger: Logger): Promise<string[]> {
  const args = ['--ignore-missing-deps', '--print-module-deps', '-q', '--multi-release', String(feature), ...(classPath.length ? ['--class-path', classPath.join(':')] : []), ...targets];
  try {
    const out = (await run(join(javaHome, 'bin', 'jdeps'), args, 'finding the modules the app uses')).trim().split('\n').pop() ?? '';
    const found = out.split(',').map((s) => s.trim()).filter((s) => /^[a-z][\w.]*$/.test(s));
    return [...new Set([...found, ...ALWAYS_MODULES])].sort();
  } catch (err) {
    logger.warn(`jdeps could not read the app (${(err as Error).message.split('\n')[0]}); the runtime gets the Java SE modules`);
    return FALLBACK_MODULES;
  }
}

/** `jlink` of `modules` from the JDK's jmods into `dest` (which must not exist yet). */
export async function jlink(javaHome: string, modules: string[], dest: string, extraArgs: string | undefined): Promise<string[]> {
  const args = [...shellWords(extraArgs?.trim() ? extraArgs : DEFAULT_JLINK_ARGUMENTS, 'BP_JVM_JLINK_ARGS'), '--module-path', join(javaHome, 'jmods'), '--add-modules', modules.join(','), '--output', dest];
  await rm(dest, { recursive: true, force: true });
  await run(join(javaHome, 'bin', 'jlink'), args, 'building the Java runtime');
  return args;
}

async function elfFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (e.name.includes('.so') || d.endsWith('/bin') || e.name === 'jspawnhelper' || e.name === 'jexec')) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Shared libraries the runtime's ELF files need that the runtime itself does not contain. */
export async function externalLibraries(runtime: string): Promise<string[]> {
  const needed = new Set<string>();
  const own = new Set<string>();
  for (const f of await elfFiles(runtime)) {
    const d = await elfDynamic(f);
    if (!d) continue;
    own.add(basename(f));
    if (d.soname) own.add(d.soname);
    for (const n of d.needed) needed.add(n);
  }
  return [...needed].filter((n) => !own.has(n)).sort();
}

/** The Debian package that ships a shared library on this machine (`dpkg -S`), for the closure. */
async function packageOf(soname: string): Promise<string | undefined> {
  const r = await execa('dpkg', ['-S', `*/${soname}`], { reject: false, env: { LC_ALL: 'C', PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, extendEnv: false });
  if (r.exitCode !== 0) return undefined;
  const names = String(r.stdout).split('\n').map((l) => l.split(':')[0]?.split(',')[0]?.trim()).filter((n): n is string => !!n && !n.includes(' '));
  return names.sort()[0];
}

/**
 * The runtime's shared libraries that the run image lacks: the packages shipping them (and their Depends closure)
 * minus what the run image has (LADING_RUN_IMAGE_PACKAGES), extracted into `dest`. A library no package provides
 * is an error, never a runtime that fails to start.
 */
export async function runtimeLibraries(runtime: string, dest: string, o: { env: Readonly<Record<string, string | undefined>>; logger: Logger; cacheDir: string }): Promise<{ sonames: string[]; packages: DependencyDescription[] }> {
  const sonames = await externalLibraries(runtime);
  const roots = new Set<string>();
  const unknown: string[] = [];
  for (const s of sonames) {
    const p = await packageOf(s);
    if (p) roots.add(p);
    else unknown.push(s);
  }
  if (unknown.length) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `the Java runtime needs ${unknown.join(', ')}, which no Debian package on this machine provides (dpkg -S); install the package that ships it`);
  const installed = await runImagePackages(o.env, 'base');
  // aptClosure leaves out installed dependencies, not installed roots: those are dropped here.
  const missing = [...roots].filter((r) => !installed.versions.has(r) && !installed.provides.has(r)).sort();
  const debs = await aptClosure(missing, { env: o.env, installed, exclude: ['libc6', 'libc-bin'] });
  if (debs.length === 0) return { sonames, packages: [] };
  o.logger.info(`  The run image lacks ${debs.map((d) => d.name).join(', ')} (needed by ${sonames.join(', ')}): adding them to the runtime layer`);
  const packages = await installDebs(debs, dest, { env: o.env, logger: o.logger, cacheDir: o.cacheDir, exclude: ['./usr/share'] });
  return { sonames, packages };
}

export const isDir = (p: string) => lstat(p).then((s) => s.isDirectory(), () => false);

/**
 * BP_JVM_JLINK_ENABLED=false: Debian's `openjdk-<N>-jre-headless` and its Depends closure minus the run image's
 * packages, unpacked into `dest`. Debian's `cacerts` is a link to a keystore that ca-certificates-java's
 * maintainer script writes, and no maintainer script runs here: the JDK's own CA store (from its java.base
 * jmod) takes its place. Returns JAVA_HOME, the library dirs and the packages.
 */
export async function installJre(feature: number, debVersion: string, dest: string, o: { env: Readonly<Record<string, string | undefined>>; logger: Logger; cacheDir: string; javaHome: string }): Promise<{ home: string; packages: DependencyDescription[] }> {
  const installed = await runImagePackages(o.env, 'base');
  const root = `openjdk-${feature}-jre-headless`;
  const debs = await aptClosure([root], { env: o.env, installed, exclude: ['ca-certificates-java', 'java-common', 'libc6', 'libc-bin'] });
  const jre = debs.find((d) => d.name === root);
  if (jre && jre.version !== debVersion) {
    throw new BuildpackError('DEPENDENCY_UNRESOLVED', `BP_JVM_JLINK_ENABLED=false takes the JRE apt installs (${root} ${jre.version}), but the build resolved Java ${debVersion}; set BP_JVM_VERSION to match or use the jlink'd runtime`);
  }
  o.logger.info(`  ${root} and ${debs.length - 1} more Debian package(s) the run image lacks`);
  const packages = await installDebs(debs, dest, { env: o.env, logger: o.logger, cacheDir: o.cacheDir, exclude: ['./usr/share/doc', './usr/share/man', './usr/share/locale', './usr/share/lintian'] });
  const jvm = join(dest, 'usr', 'lib', 'jvm');
  const dir = (await readdir(jvm)).find((d) => d.startsWith(`java-${feature}-openjdk-`));
  if (!dir) throw new BuildpackError('DEPENDENCY_FETCH', `${root} left no ${jvm}/java-${feature}-openjdk-<arch>`);
  const home = join(jvm, dir);
  const work = await mkdtemp(join(tmpdir(), 'lading-java-jmod-'));
  try {
    await run(join(o.javaHome, 'bin', 'jmod'), ['extract', '--dir', work, join(o.javaHome, 'jmods', 'java.base.jmod')], 'reading the JDK\'s CA certificates');
    await rm(join(home, 'lib', 'security', 'cacerts'), { force: true });
    await copyFile(join(work, 'lib', 'security', 'cacerts'), join(home, 'lib', 'security', 'cacerts'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { home, packages };
}
