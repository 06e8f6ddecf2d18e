import { lstat, readFile, readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import semver from 'semver';
import {
  BuildpackError,
  CatalogSource,
  catalogFromMetadata,
  distOverride,
  extractTarGz,
  fetchCached,
  resolveVersion,
  type CatalogEntry,
  type DependencyDescription,
  type SbomComponent,
  type TomlTable,
  type VersionRequest,
} from '../../lib/index.js';
import type { Jdk } from './jdk.js';

export type JvmSourceKind = 'apt' | 'catalog';

/** The licence of OpenJDK builds, when the catalog entry names none. */
export const OPENJDK_LICENSE = 'GPL-2.0-only WITH Classpath-exception-2.0';

const HINT =
  'To use another JDK: set BP_JVM_VERSION to a version the catalog lists, point at a JDK tarball (jdk-<version>/bin/javac, ' +
  'jmods/) with BP_JVM_DIST_URI and BP_JVM_DIST_SHA256, add a [[metadata.dependencies]] entry with id "jdk" to the ' +
  "buildpack's buildpack.toml, or set BP_JVM_SOURCE=apt for Debian's OpenJDK packages (docs/buildpacks/java.md).";

/**
 * The JDK version in the usual names of JDK tarballs: `jdk-17.0.13+11.tar.gz` → 17.0.13+11,
 * `OpenJDK17U-jdk_x64_linux_hotspot_17.0.13_11.tar.gz` → 17.0.13+11, `openjdk-21.0.2_linux-x64_bin.tar.gz` → 21.0.2.
 */
export function versionFromFileName(name: string): string | undefined {
  const m = /(?:^|[^\d.])(\d+\.\d+\.\d+(?:\.\d+)?)(?:[+_](\d+)(?=[._-]|$))?/.exec(name);
  if (!m) return undefined;
  return m[2] ? `${m[1] as string}+${m[2]}` : m[1];
}

/** A JDK version as semver for ordering: `17.0.21.1+2` → 17.0.21 (the build number does not order releases). */
export function jdkSemver(v: string): string | null {
  if (!/^\d+(\.\d+){0,3}(\+\d+)?$/.test(v.trim())) return null;
  return semver.coerce(v.trim())?.version ?? null;
}

/** Catalog entries for `jdk`: buildpack.toml `[[metadata.dependencies]]` plus BP_JVM_DIST_URI/BP_JVM_DIST_SHA256. */
export function jdkCatalog(metadata: TomlTable, env: { uri?: string | undefined; sha256?: string | undefined; version?: string | undefined }): CatalogEntry[] {
  const entries = catalogFromMetadata(metadata).filter((e) => e.name === 'jdk');
  for (const e of entries) {
    if (!jdkSemver(e.version)) throw new BuildpackError('CONTRACT', `buildpack.toml: the jdk entry for ${e.uri} has version "${e.version}", not a JDK version (17.0.13 or 17.0.13+11)`);
  }
  const dist = distOverride('BP_JVM', env.uri, env.sha256);
  if (!dist) return entries;
  const { uri, sha256 } = dist;
  const named = versionFromFileName(dist.fileName);
  const exact = env.version?.trim();
  const version = named ?? (exact && /^\d+\.\d+\.\d+(\.\d+)?(\+\d+)?$/.test(exact) ? exact : undefined);
  if (!version) {
    throw new BuildpackError('CONFIG', `BP_JVM_DIST_URI ${uri}: cannot tell the JDK version from the file name (jdk-17.0.13+11.tar.gz); set BP_JVM_VERSION to the exact version (17.0.13)`);
  }
  return [{ name: 'jdk', version, uri, sha256, licenses: [OPENJDK_LICENSE] }, ...entries];
}

/** BP_JVM_SOURCE; default: catalog when there are catalog entries, else apt. */
export function jvmSourceKind(kind: string | undefined, catalog: readonly CatalogEntry[]): JvmSourceKind {
  const k = (kind ?? '').trim().toLowerCase();
  if (k === 'apt' || k === 'catalog') {
    if (k === 'catalog' && catalog.length === 0) {
      throw new BuildpackError('CONFIG', 'BP_JVM_SOURCE=catalog but there is no catalog entry: set BP_JVM_DIST_URI and BP_JVM_DIST_SHA256, or add [[metadata.dependencies]] with id "jdk" to buildpack.toml');
    }
    return k;
  }
  if (k !== '') throw new BuildpackError('CONFIG', `BP_JVM_SOURCE=${kind}: must be apt or catalog`);
  return catalog.length > 0 ? 'catalog' : 'apt';
}

/** The catalog's JDK version satisfying the request (the highest); the error lists what the catalog has. */
export function resolveCatalogJdk(request: VersionRequest, catalog: readonly CatalogEntry[]): string {
  const versions = [...new Set(catalog.filter((e) => e.name === 'jdk').map((e) => e.version))];
  try {
    return resolveVersion('Java (catalog jdk)', versions, request, { semverOf: jdkSemver });
  } catch (err) {
    if (err instanceof BuildpackError) {
      const sorted = [...versions].sort((a, b) => semver.compare(jdkSemver(a) ?? '0.0.0', jdkSemver(b) ?? '0.0.0') || (a < b ? -1 : 1));
      throw new BuildpackError(err.code, `${err.message}. The catalog has: ${sorted.join(', ') || 'nothing'}. ${HINT}`, { cause: err.cause });
    }
    throw err;
  }
}

const exists = (p: string) => lstat(p).then(() => true, () => false);

/**
 * The JDK's root in an extracted tarball: the directory whose `bin/javac` exists, at the top or up to three
 * levels down (`jdk-17.0.13+11/`, `jdk-17.0.13+11/Contents/Home/`), the shallowest first.
 */
export async function findJdkRoot(dir: string, archive: string): Promise<string> {
  let level = [dir];
  for (let depth = 0; depth <= 3; depth++) {
    const next: string[] = [];
    for (const d of level.sort()) {
      if (await exists(join(d, 'bin', 'javac'))) return d;
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) next.push(join(d, e.name));
    }
    level = next;
  }
  throw new BuildpackError('DEPENDENCY_INTEGRITY', `${archive}: no bin/javac in the archive (looked at its top and three levels down, e.g. jdk-17.0.13+11/bin/javac): not a JDK (a JRE cannot build or jlink)`);
}

/** JAVA_VERSION from the JDK's `release` file, else from `bin/java -version`. */
export async function installedJdkVersion(home: string): Promise<string | undefined> {
  const release = await readFile(join(home, 'release'), 'utf8').catch(() => undefined);
  const fromRelease = release ? /^JAVA_VERSION="?([^"\n]+)"?/m.exec(release)?.[1] : undefined;
  if (fromRelease) return fromRelease.trim();
  const r = await execa(join(home, 'bin', 'java'), ['-version'], { reject: false, all: true, env: { LC_ALL: 'C' }, extendEnv: false });
  return /version "([^"]+)"/.exec(String(r.all ?? ''))?.[1];
}

/** Checks an extracted JDK against its catalog entry: the version it reports, jlink and the jmods it needs. */
export async function checkJdk(home: string, version: string, uri: string): Promise<void> {
  const actual = await installedJdkVersion(home);
  const want = version.replace(/\+.*$/, '');
  if (!actual) throw new BuildpackError('DEPENDENCY_INTEGRITY', `${uri}: cannot tell the JDK's version (no JAVA_VERSION in release, and bin/java -version did not say)`);
  if (actual.replace(/\+.*$/, '') !== want) throw new BuildpackError('DEPENDENCY_INTEGRITY', `${uri}: the catalog says JDK ${version}, but the archive holds Java ${actual}`);
  for (const need of ['bin/jlink', 'bin/jdeps', 'jmods/java.base.jmod']) {
    if (!(await exists(join(home, need)))) {
      throw new BuildpackError('DEPENDENCY_INTEGRITY', `${uri}: the JDK has no ${need}; the buildpack needs jdeps, jlink and the jmods to make the runtime (a JDK build without jmods cannot be used)`);
    }
  }
}

function catalogComponent(d: DependencyDescription, version: string, cpe: string): SbomComponent {
  return {
    name: 'jdk',
    version,
    type: 'application',
    purl: d.purl,
    cpe,
    licenses: d.licenses.length ? d.licenses : [OPENJDK_LICENSE],
    hashes: { sha256: d.checksum.replace(/^sha256:/, '') },
    downloadLocation: d.uri,
  };
}

/**
 * A JDK from a catalog tarball: verified against its sha256 and kept in the `download-jdk` cache layer (fetch,
 * on every build), extracted into the JDK layer with its root (the directory holding bin/javac) made the layer
 * itself, then checked (version, jlink, jmods).
 */
export async function catalogJdk(request: VersionRequest, catalog: readonly CatalogEntry[]): Promise<Jdk> {
  const entries = catalog.filter((e) => e.name === 'jdk');
  const source = new CatalogSource({ entries });
  const version = resolveCatalogJdk(request, entries);
  const d = await source.describe('jdk', version);
  const plain = version.replace(/\+.*$/, '');
  const cpe = d.cpe ?? `cpe:2.3:a:oracle:openjdk:${plain}:*:*:*:*:*:*:*`;
  let file: string | undefined;
  return {
    source: 'catalog',
    feature: Number(plain.split('.')[0]),
    version,
    origin: d.uri,
    key: { source: 'catalog', version, checksums: [d.checksum] },
    components: [catalogComponent(d, version, cpe)],
    purl: d.purl,
    cpe,
    licenses: d.licenses.length ? d.licenses : [OPENJDK_LICENSE],
    async fetch(layers, logger) {
      try {
        file = (await fetchCached(layers, source, 'jdk', version, logger)).path;
      } catch (err) {
        if (err instanceof BuildpackError && err.code === 'DEPENDENCY_INTEGRITY') throw new BuildpackError(err.code, `${d.uri}: ${err.message}`, { cause: err });
        throw err;
      }
    },
    async install(layer) {
      if (!file) throw new BuildpackError('DEPENDENCY_FETCH', `the JDK tarball ${d.uri} was not fetched before installing`);
      const work = join(layer.path, '.extract');
      await rm(work, { recursive: true, force: true });
      await extractTarGz(file, work);
      const root = await findJdkRoot(work, d.uri);
      for (const e of await readdir(root)) await rename(join(root, e), join(layer.path, e));
      await rm(work, { recursive: true, force: true });
      await rm(join(layer.path, 'lib', 'src.zip'), { force: true });
      await checkJdk(layer.path, version, d.uri);
      return layer.path;
    },
  };
}
