import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AptSource,
  BuildpackError,
  debianSemver,
  debianUpstreamVersion,
  installDebs,
  resolveVersion,
  type DependencyDescription,
  type Layer,
  type Layers,
  type Logger,
  type CatalogEntry,
  type ResolvedDeb,
  type SbomComponent,
  type TomlTable,
  type VersionRequest,
} from '../../lib/index.js';
import { catalogJdk, jvmSourceKind, OPENJDK_LICENSE, type JvmSourceKind } from './catalog.js';

/**
 * A JDK for the build, jdeps and jlink: from Debian's OpenJDK packages (openjdk-<N>-jdk-headless +
 * openjdk-<N>-jre-headless, same version) or from a catalog tarball (catalog.ts).
 */
export interface Jdk {
  source: JvmSourceKind;
  /** Feature release, e.g. 17. */
  feature: number;
  /** Debian's version, e.g. 17.0.21.1+2-1~deb12u1 (apt only: the JRE package must match it). */
  debVersion?: string;
  /** OpenJDK's version, e.g. 17.0.21.1+2. */
  version: string;
  /** Where it comes from, for the log: `Debian openjdk-17 17.0.21.1+2-1~deb12u1`, or the catalog URL. */
  origin: string;
  /** Reuse key: packages and apt's checksums. */
  key: TomlTable;
  /** The packages, for the build SBOM. */
  components: SbomComponent[];
  /** The JDK's purl and CPE, for the runtime derived from it. */
  purl: string;
  cpe: string;
  licenses: string[];
  /** Keeps a catalog download in its cache layer (fetchCached); call on every build so it stays cached. */
  fetch(layers: Layers, logger: Logger): Promise<void>;
  /** Downloads (into `cacheDir`, verified) and extracts the JDK into `layer`; returns JAVA_HOME. */
  install(layer: Layer, o: { cacheDir: string; logger: Logger }): Promise<string>;
}

export interface JdkOptions {
  /** BP_JVM_SOURCE: apt or catalog; default catalog when there are catalog entries, else apt. */
  kind?: string | undefined;
  catalog: readonly CatalogEntry[];
  env: Readonly<Record<string, string | undefined>>;
  /** Where apt-cache's answers are kept between builds (AptSource.cached); none: ask apt each time. */
  layers?: Layers;
}

/** The JDK from the chosen source (jvmSourceKind) that satisfies the request. */
export async function resolveJdk(request: VersionRequest, opts: JdkOptions): Promise<Jdk> {
  return jvmSourceKind(opts.kind, opts.catalog) === 'catalog' ? catalogJdk(request, opts.catalog) : aptJdk(request, opts.env, opts.layers);
}

const HINT =
  'Set BP_JVM_VERSION (or .java-version, or maven.compiler.release in pom.xml) to one of these, or make another ' +
  'version available to apt (an apt source that carries openjdk-<N>-jdk-headless), or use a JDK tarball from a catalog ' +
  '(BP_JVM_DIST_URI and BP_JVM_DIST_SHA256, or [[metadata.dependencies]] with id "jdk"; docs/buildpacks/java.md).';

/** The newest JDK apt offers that satisfies the request; the error lists what apt has. */
export async function aptJdk(request: VersionRequest, env: Readonly<Record<string, string | undefined>>, layers?: Layers): Promise<Jdk> {
  // With layers: apt-cache's answers are kept in a cache layer while apt's state is unchanged (AptSource.cached).
  const apt = layers ? await AptSource.cached(layers, { env }) : new AptSource({ env });
  const byVersion = new Map<string, string>();
  for (const pkg of await apt.packageNames('openjdk-', /^openjdk-\d+-jdk-headless$/)) {
    for (const v of await apt.versions(pkg).catch((): string[] => [])) byVersion.set(v, pkg);
  }
  let debVersion: string;
  try {
    debVersion = resolveVersion('Java (Debian openjdk-<N>-jdk-headless)', [...byVersion.keys()], request, { semverOf: debianSemver });
  } catch (err) {
    if (err instanceof BuildpackError && err.code === 'DEPENDENCY_UNRESOLVED') {
      const all = [...byVersion.entries()].map(([v, p]) => `${p} ${v}`).sort();
      throw new BuildpackError('DEPENDENCY_UNRESOLVED', `${err.message}. apt offers: ${all.join(', ') || 'no OpenJDK at all'}. ${HINT}`);
    }
    throw err;
  }
  const jdkPkg = byVersion.get(debVersion) as string;
  const feature = Number(/^openjdk-(\d+)-/.exec(jdkPkg)?.[1]);
  const jrePkg = `openjdk-${feature}-jre-headless`;
  const [jdk, jre] = await Promise.all([apt.describe(jdkPkg, debVersion), apt.describe(jrePkg, debVersion)]);
  const version = debianUpstreamVersion(debVersion);
  const cpeVersion = version.replace(/\+.*$/, '');
  const cpe = `cpe:2.3:a:oracle:openjdk:${cpeVersion}:*:*:*:*:*:*:*`;
  const debs: ResolvedDeb[] = [jre, jdk].map((d) => ({ name: d.name, version: debVersion, arch: /[?&]arch=([^&]+)/.exec(d.purl)?.[1] ?? 'amd64', sha256: d.checksum.replace(/^sha256:/, '') }));
  return {
    source: 'apt',
    feature,
    debVersion,
    version,
    origin: `Debian openjdk-${feature} ${debVersion}`,
    key: { source: 'apt', packages: [`${jdkPkg}=${debVersion}`, `${jrePkg}=${debVersion}`], checksums: [jdk.checksum, jre.checksum] },
    components: [jdk, jre].map((d) => component(d, cpe)),
    purl: jdk.purl,
    cpe,
    licenses: [OPENJDK_LICENSE],
    async fetch() {}, // the .debs are fetched into the `debs` cache layer when the JDK is installed
    async install(layer, o) {
      await installDebs(debs, layer.path, { env, logger: o.logger, cacheDir: o.cacheDir, exclude: ['./usr/share/doc', './usr/share/man', '*/lib/src.zip', '*/demo'] });
      const jvm = join(layer.path, 'usr', 'lib', 'jvm');
      const home = (await readdir(jvm)).find((d) => d.startsWith(`java-${feature}-openjdk-`));
      if (!home) throw new BuildpackError('DEPENDENCY_FETCH', `${jdkPkg} ${debVersion} has no ${jvm}/java-${feature}-openjdk-<arch>`);
      return join(jvm, home);
    },
  };
}

function component(d: DependencyDescription, cpe: string): SbomComponent {
  const c: SbomComponent = { name: d.name, version: d.version, type: 'application', purl: d.purl, cpe, licenses: [OPENJDK_LICENSE], downloadLocation: d.uri };
  if (d.checksum.startsWith('sha256:')) c.hashes = { sha256: d.checksum.slice(7) };
  return c;
}
