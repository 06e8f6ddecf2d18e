import { mkdir, mkdtemp, rename, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  contributeLayer,
  extractTarGz,
  nodeArch,
  NpmSource,
  resolveVersion,
  type BuildContext,
  type DependencyDescription,
  type DependencySource,
  type Layer,
  type SbomComponent,
  type VersionRequest,
} from '../../lib/index.js';
import { nodeCpe, runtimePackage } from './node-version.js';

/** The installed runtime: where node and npm are, for later steps and process commands. */
export interface NodeRuntime {
  layer: Layer;
  version: string;
  npmVersion: string;
  /** `<layer>/bin/node`: absolute, so process commands need no PATH lookup and no launcher. */
  node: string;
  /** npm's entry script, run as `node <npmCli>` (no `/usr/bin/env` needed in the run image). */
  npmCli: string;
  reused: boolean;
  /** The resolved runtime package, for contributeHeaders. */
  package: string;
  source: DependencySource;
}

/** Hex digest of an SRI `sha512-<base64>` checksum, for SBOM hashes. */
export function sriHex(sri: string): { sha512?: string; sha1?: string } {
  const m = /^(sha512|sha1)-([A-Za-z0-9+/=]+)$/.exec(sri.trim().split(/\s+/)[0] ?? '');
  if (!m) return {};
  return { [m[1] as 'sha512' | 'sha1']: Buffer.from(m[2]!, 'base64').toString('hex') };
}

/**
 * The newest version of npm package `name` satisfying `request`: through the source's memo of earlier
 * resolutions when it is an NpmSource made by `NpmSource.cached` (a rebuild asks the registry again only once
 * the answer is older than BP_NODE_RESOLVE_TTL), else from the versions it lists now.
 */
export async function resolveFrom(source: DependencySource, what: string, name: string, request: VersionRequest): Promise<string> {
  if (source instanceof NpmSource) return source.resolve(what, name, request);
  return resolveVersion(what, await source.versions(name), request);
}

/**
 * Files of the node-linux-* package the image does not need. `include/` (65 MB of headers) matters only to
 * native addons at build time: contributeHeaders provides it in a layer of its own when a project has any.
 */
const UNUSED_RUNTIME_FILES = ['share', 'include', 'CHANGELOG.md', 'README.md'];

/**
 * The `node` layer (build, launch and cache): Node.js from the `node-linux-<arch>` package and npm from the
 * `npm` package of the user's npm registry, both integrity-checked. Reused while the resolved versions and
 * their checksums are unchanged; the registry is asked only which versions exist and their checksums.
 */
export async function contributeRuntime(ctx: BuildContext, source: DependencySource, request: VersionRequest, npmRequest: VersionRequest): Promise<NodeRuntime> {
  const pkg = runtimePackage(nodeArch(ctx.target.arch));
  const version = await resolveFrom(source, 'Node.js', pkg, request);
  ctx.logger.info(`Node.js ${version} (${pkg}; requested "${request.constraint}" by ${request.source})`);
  const npmVersion = await resolveFrom(source, 'npm', 'npm', npmRequest);
  const [nodeDesc, npmDesc] = await Promise.all([source.describe(pkg, version), source.describe('npm', npmVersion)]);
  const { layer, reused } = await contributeLayer(
    ctx.layers,
    'node',
    {
      types: { build: true, launch: true, cache: true },
      expected: { package: pkg, version, checksum: nodeDesc.checksum, 'npm-version': npmVersion, 'npm-checksum': npmDesc.checksum },
      // The bytes are the two verified packages unpacked by this program: the exporter may reuse the tar of an
      // earlier build of the same versions instead of hashing 120 MB again.
      content: { buildpackDir: ctx.buildpack.dir },
      build: async (l) => {
        const tmp = await mkdtemp(join(tmpdir(), 'lading-node-'));
        try {
          ctx.logger.info(`  Fetching ${pkg} ${version} and npm ${npmVersion}`);
          const [node, npm] = await Promise.all([source.fetch(pkg, version, join(tmp, 'node')), source.fetch('npm', npmVersion, join(tmp, 'npm'))]);
          const stored = [node, npm].filter((f) => f.fromStore).map((f) => f.name);
          if (stored.length > 0) ctx.logger.info(`  ${stored.join(' and ')} from the machine's download store (verified again)`);
          // Both at once (each is thousands of small files); npm's directory is npm's alone.
          const npmRel = 'lib/node_modules/npm';
          const skip = [...UNUSED_RUNTIME_FILES, npmRel];
          await Promise.all([
            extractTarGz(node.path, l.path, { stripComponents: 1, skip: (p) => skip.some((f) => p === f || p.startsWith(`${f}/`)) }),
            extractTarGz(npm.path, join(l.path, npmRel), { stripComponents: 1 }),
          ]);
          await mkdir(join(l.path, 'bin'), { recursive: true });
          await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(l.path, 'bin', 'npm'));
          await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(l.path, 'bin', 'npx'));
          l.metadata['sha256'] = node.sha256;
          l.metadata['npm-sha256'] = npm.sha256;
        } finally {
          await rm(tmp, { recursive: true, force: true });
        }
        await l.env().default('NODE_HOME', l.path);
        await l.env('launch').default('NODE_ENV', 'production');
        await l.env('launch').default('NODE_VERBOSE', 'false');
      },
    },
    ctx.logger,
  );
  // Written on every build, also when the layer is reused: the SBOM describes the layer the image gets.
  const sha = (k: string) => (typeof layer.metadata[k] === 'string' ? (layer.metadata[k] as string) : '');
  await layer.writeSbom(runtimeSbom({ ...nodeDesc, sha256: sha('sha256') }, { ...npmDesc, sha256: sha('npm-sha256') }, version));
  return {
    layer,
    version,
    npmVersion,
    node: join(layer.path, 'bin', 'node'),
    npmCli: join(layer.path, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    reused,
    package: pkg,
    source,
  };
}

/**
 * Node's C headers for native addons (node-gyp's `nodedir`, so nothing is downloaded from elsewhere), in a
 * `node-headers` layer (build, cache) that never reaches the image. Taken from the same verified package.
 */
export async function contributeHeaders(ctx: BuildContext, runtime: NodeRuntime): Promise<string> {
  const d = await runtime.source.describe(runtime.package, runtime.version);
  const { layer } = await contributeLayer(ctx.layers, 'node-headers', {
    types: { build: true, cache: true },
    expected: { package: runtime.package, version: runtime.version, checksum: d.checksum },
    content: { buildpackDir: ctx.buildpack.dir },
    build: async (l) => {
      // Unpacked inside the layer: /tmp may be another filesystem, and a rename cannot cross one.
      const tmp = join(l.path, '.unpack');
      try {
        const node = await runtime.source.fetch(runtime.package, runtime.version, join(tmp, 'download'));
        await extractTarGz(node.path, join(tmp, 'package'), { stripComponents: 1, skip: (p) => p !== 'include' && !p.startsWith('include/') });
        await rename(join(tmp, 'package', 'include'), join(l.path, 'include'));
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
  }, ctx.logger);
  return layer.path;
}

/** The runtime layer's SBOM: Node.js (generic purl + NVD CPE) and the npm it carries. */
export function runtimeSbom(node: DependencyDescription & { sha256: string }, npm: DependencyDescription & { sha256: string }, version: string): SbomComponent[] {
  return [
    {
      name: 'node',
      version,
      type: 'platform',
      purl: `pkg:generic/node@${version}`,
      cpe: nodeCpe(version),
      licenses: node.licenses,
      hashes: { ...(node.sha256 ? { sha256: node.sha256 } : {}), ...sriHex(node.checksum) },
    },
    {
      name: 'npm',
      version: npm.version,
      purl: npm.purl,
      licenses: npm.licenses,
      hashes: { ...(npm.sha256 ? { sha256: npm.sha256 } : {}), ...sriHex(npm.checksum) },
    },
  ];
}
