import { join } from 'node:path';
import { execa } from 'execa';
import {
  AptSource,
  BuildpackError,
  CatalogSource,
  HostSource,
  catalogFromMetadata,
  distOverride,
  debianSemver,
  extractTarGz,
  fetchCached,
  resolveVersion,
  type CatalogEntry,
  type DependencyDescription,
  type Layer,
  type Layers,
  type Logger,
  type SbomComponent,
  type TomlTable,
  type VersionRequest,
} from '../../lib/index.js';
import { goSemver } from './version.js';

/** A resolved Go toolchain: what it is (for reuse keys and the SBOM) and how to make it usable. */
export interface GoToolchain {
  /** Go's version as semver, e.g. 1.19.8. */
  version: string;
  source: 'apt' | 'catalog' | 'host';
  /** Everything the installed toolchain depends on (package versions, checksums): part of reuse keys. */
  key: TomlTable;
  /** For the build SBOM. */
  components: SbomComponent[];
  /** Keeps the downloads in their cache layers; call on every build so they stay cached. */
  fetch(layers: Layers, logger: Logger): Promise<void>;
  /** Fills the toolchain layer (empty for host) and returns GOROOT. */
  install(layer: Layer): Promise<string>;
}

export type ToolchainKind = 'apt' | 'catalog' | 'host';

export interface ToolchainOptions {
  /** BP_GO_TOOLCHAIN; default: catalog when there are catalog entries, else apt. */
  kind?: string | undefined;
  catalog: CatalogEntry[];
  env: Readonly<Record<string, string | undefined>>;
  /** Where the apt source keeps apt-cache's answers between builds (AptSource.cached); none: ask apt each time. */
  layers?: Layers;
}

const HINT =
  'To use another Go: set BP_GO_VERSION to an available version, or point at a toolchain tarball (a mirror or go.dev\'s ' +
  'go<version>.linux-<arch>.tar.gz) with BP_GO_DIST_URI and BP_GO_DIST_SHA256, or add a [[metadata.dependencies]] entry ' +
  'with id "go" to the buildpack\'s buildpack.toml, or set BP_GO_TOOLCHAIN=host to use this machine\'s go (docs/buildpacks/go.md).';

/** Catalog entries for `go`: buildpack.toml `[[metadata.dependencies]]` plus BP_GO_DIST_URI/BP_GO_DIST_SHA256. */
export function goCatalog(metadata: TomlTable, env: { uri?: string | undefined; sha256?: string | undefined; version?: string | undefined }): CatalogEntry[] {
  const entries = catalogFromMetadata(metadata).filter((e) => e.name === 'go');
  const dist = distOverride('BP_GO', env.uri, env.sha256);
  if (!dist) return entries;
  const named = /go(\d+\.\d+(?:\.\d+)?(?:(?:rc|beta)\d+)?)\.[a-z]+-[a-z0-9]+\.tar\.gz$/.exec(dist.fileName)?.[1];
  const version = named ?? (env.version && goSemver(env.version) === env.version ? env.version : undefined);
  if (!version) throw new BuildpackError('CONFIG', `BP_GO_DIST_URI ${dist.uri}: cannot tell the Go version from the file name (go1.22.5.linux-amd64.tar.gz); set BP_GO_VERSION to the exact version`);
  return [{ name: 'go', version: goSemver(version) ?? version, uri: dist.uri, sha256: dist.sha256, purl: `pkg:golang/stdlib@${goSemver(version) ?? version}`, licenses: ['BSD-3-Clause'] }, ...entries];
}

export function toolchainKind(opts: ToolchainOptions): ToolchainKind {
  const k = (opts.kind ?? '').trim().toLowerCase();
  if (k === 'apt' || k === 'catalog' || k === 'host') return k;
  if (k !== '') throw new BuildpackError('CONFIG', `BP_GO_TOOLCHAIN=${opts.kind}: must be apt, catalog or host`);
  return opts.catalog.length > 0 ? 'catalog' : 'apt';
}

/** Resolves the request against the chosen source; the error lists what exists and how to point elsewhere. */
export async function resolveToolchain(request: VersionRequest, opts: ToolchainOptions): Promise<GoToolchain> {
  const kind = toolchainKind(opts);
  try {
    if (kind === 'host') return await hostToolchain(request, opts);
    if (kind === 'catalog') return await catalogToolchain(request, opts);
    return await aptToolchain(request, opts);
  } catch (err) {
    if (err instanceof BuildpackError && err.code === 'DEPENDENCY_UNRESOLVED') {
      throw new BuildpackError('DEPENDENCY_UNRESOLVED', `${err.message} (source: ${kind}). ${HINT}`, { cause: err.cause });
    }
    throw err;
  }
}

async function aptToolchain(request: VersionRequest, opts: ToolchainOptions): Promise<GoToolchain> {
  // apt's answers are kept in a cache layer while apt's lists are unchanged: a rebuild asks apt-cache nothing
  const apt = opts.layers ? await AptSource.cached(opts.layers, { env: opts.env }) : new AptSource({ env: opts.env });
  const byVersion = new Map<string, string>();
  for (const pkg of await apt.packageNames('golang-', /^golang-\d+\.\d+-go$/)) {
    for (const v of await apt.versions(pkg).catch((): string[] => [])) byVersion.set(v, pkg);
  }
  const debVersion = resolveVersion('go (Debian golang-<minor>-go)', [...byVersion.keys()], request, { semverOf: debianSemver });
  const goPkg = byVersion.get(debVersion) as string;
  const srcPkg = goPkg.replace(/-go$/, '-src');
  const minor = /^golang-(\d+\.\d+)-go$/.exec(goPkg)?.[1] as string;
  const [go, src] = await Promise.all([apt.describe(goPkg, debVersion), apt.describe(srcPkg, debVersion)]);
  const version = debianSemver(debVersion) as string;
  let debs: string[] = [];
  return {
    version,
    source: 'apt',
    key: { source: 'apt', packages: [`${goPkg}=${debVersion}`, `${srcPkg}=${debVersion}`], checksums: [go.checksum, src.checksum] },
    components: [go, src].map(component),
    async fetch(layers, logger) {
      debs = [(await fetchCached(layers, apt, goPkg, debVersion, logger)).path, (await fetchCached(layers, apt, srcPkg, debVersion, logger)).path];
    },
    async install(layer) {
      if (debs.length !== 2) throw new BuildpackError('DEPENDENCY_FETCH', `${goPkg} was not fetched before installing`);
      // What `go build -trimpath` never reads stays out: tests, testdata, docs, and the precompiled standard
      // library (stale for -trimpath builds: it is rebuilt into GOCACHE). Halves the files written.
      const exclude = ['./usr/share/doc', `./usr/share/go-${minor}/test`, '*/testdata', '*_test.go', `./usr/lib/go-${minor}/pkg/linux_*`];
      for (const deb of debs) await extractDeb(deb, layer.path, exclude);
      return join(layer.path, 'usr', 'lib', `go-${minor}`);
    },
  };
}

async function catalogToolchain(request: VersionRequest, opts: ToolchainOptions): Promise<GoToolchain> {
  const catalog = new CatalogSource({ entries: opts.catalog });
  const v = resolveVersion('go (catalog)', await catalog.versions('go'), request, { semverOf: goSemver });
  const d = await catalog.describe('go', v);
  let file: string | undefined;
  return {
    version: goSemver(v) as string,
    source: 'catalog',
    key: { source: 'catalog', version: v, checksums: [d.checksum] },
    components: [component(d)],
    async fetch(layers, logger) {
      file = (await fetchCached(layers, catalog, 'go', v, logger)).path;
    },
    async install(layer) {
      if (!file) throw new BuildpackError('DEPENDENCY_FETCH', 'the Go tarball was not fetched before installing');
      await extractTarGz(file, layer.path, { stripComponents: 1 });
      return layer.path;
    },
  };
}

async function hostToolchain(request: VersionRequest, opts: ToolchainOptions): Promise<GoToolchain> {
  const host = new HostSource({ env: opts.env, tools: { go: { command: 'go', versionArgs: ['version'], versionPattern: /go(\d+\.\d+(?:\.\d+)?(?:(?:rc|beta)\d+)?)/ } } });
  const v = resolveVersion('go (host)', await host.versions('go'), request, { semverOf: goSemver });
  const d = await host.fetch('go', v);
  return {
    version: goSemver(v) as string,
    source: 'host',
    key: { source: 'host', version: v, checksums: [d.checksum] },
    components: [{ ...component(d), name: 'go (host toolchain)' }],
    async fetch() {},
    async install() {
      return (await run(d.path, ['env', 'GOROOT'], opts.env)).trim();
    },
  };
}

function component(d: DependencyDescription): SbomComponent {
  const c: SbomComponent = { name: d.name, version: d.version, type: 'application', purl: d.purl, licenses: d.licenses, downloadLocation: d.uri };
  if (d.checksum.startsWith('sha256:')) c.hashes = { sha256: d.checksum.slice(7) };
  return c;
}

/** `dpkg-deb --fsys-tarfile DEB | tar -x -C DEST --exclude …`: dpkg-deb -x with a filter. */
async function extractDeb(deb: string, dest: string, exclude: string[]): Promise<void> {
  try {
    await execa('dpkg-deb', ['--fsys-tarfile', deb], { timeout: 600_000, buffer: false }).pipe('tar', ['-x', '-C', dest, ...exclude.map((e) => `--exclude=${e}`)], { timeout: 600_000 });
  } catch (err) {
    throw new BuildpackError('DEPENDENCY_FETCH', `extracting ${deb} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
  }
}

async function run(cmd: string, args: string[], env?: Readonly<Record<string, string | undefined>>): Promise<string> {
  try {
    return (await execa(cmd, args, { ...(env ? { env, extendEnv: false } : {}), timeout: 600_000 })).stdout;
  } catch (err) {
    throw new BuildpackError('DEPENDENCY_FETCH', `${cmd} ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
  }
}
