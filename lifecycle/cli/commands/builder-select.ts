import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { storeHome } from '../../../registry/layout/index.js';
import { LadingError } from '../../../registry/oci/index.js';
import { openSource, type OpenOptions } from '../../../registry/open.js';
import { familiarName, parseReference } from '../../../registry/reference.js';
import { readTomlFile, tomlFields } from '../../buildpack/index.js';
import { hasCxxRuntime, isBuilderDirectory, NODE_DIR, NODE_LIB_DIR, openBuilderImage, readImage, stackUser, unpackRootfs } from '../../builder-image/index.js';
import { sandboxIsolation, type Isolation } from '../../isolation/index.js';
import { readBuilderConfig, type BuilderConfig } from '../../platform/index.js';
import type { Output } from '../output.js';

export interface BuilderSelectArgs {
  builder: string;
  isolation?: string;
  'trust-builder'?: boolean;
  network?: string;
}

export interface SelectedBuilder {
  config: BuilderConfig;
  /** The sandbox, when buildpacks run in the build image; undefined = host mode (the creator's default). */
  isolation?: Isolation;
  trusted: boolean;
  close(): Promise<void>;
}

/**
 * The builder of `lading build -B REF`: a builder directory (trusted, host mode unless `--isolation sandbox`)
 * or a builder image (registry, local store, `oci:`). As in pack, an image is trusted only with
 * `--trust-builder` or when `$LADING_HOME/config.toml` lists it under `[[trusted-builders]]`; an untrusted
 * builder always runs sandboxed, as does one whose label asks for it.
 */
export async function selectBuilder(args: BuilderSelectArgs, options: OpenOptions, env: NodeJS.ProcessEnv, out: Output): Promise<SelectedBuilder> {
  if (args.isolation !== undefined && args.isolation !== 'host' && args.isolation !== 'sandbox') {
    throw new LadingError('USAGE', `--isolation "${args.isolation}": must be host or sandbox`);
  }
  if (args.network !== undefined && args.network !== 'default' && args.network !== 'none') {
    throw new LadingError('USAGE', `--network "${args.network}": must be default or none`);
  }
  const cacheDir = join(storeHome({ env }), 'cache', 'builders');
  if (await isBuilderDirectory(args.builder)) {
    const config = await readBuilderConfig(resolve(args.builder));
    const sandboxed = args.isolation === 'sandbox';
    if (!sandboxed) {
      checkNetworkFlag(args, false);
      return { config, trusted: true, close: async () => undefined };
    }
    if (!config.buildImage) throw new LadingError('USAGE', `--isolation sandbox: ${config.file} has no [build] image to run buildpacks in`);
    const source = await openSource(parseReference(config.buildImage), options);
    try {
      const image = await readImage(source, `${config.file}: [build] image ${config.buildImage}`);
      const user = stackUser(image, config.buildImage);
      const rootfs = await unpackRootfs(image, cacheDir);
      out.log(`Sandbox: buildpacks run in ${config.buildImage} as ${user.uid}:${user.gid}${args.network === 'none' ? ', no network' : ''}`);
      return { config, trusted: true, isolation: await sandbox(rootfs, user, imageEnv(image.config.config?.Env), [], args.network), close: async () => undefined };
    } finally {
      await source.close().catch(() => undefined);
    }
  }
  const builder = await openBuilderImage(args.builder, { ...options, cacheDir });
  try {
    const trusted = args['trust-builder'] === true || (await trustedBuilders(env)).some((t) => sameBuilder(t, args.builder));
    const asks = builder.lading?.isolation === 'sandbox';
    if (args.isolation === 'host' && !trusted) {
      throw new LadingError('USAGE', `builder ${args.builder} is not trusted, so its buildpacks run sandboxed; pass --trust-builder (or list it under [[trusted-builders]] in ${join(storeHome({ env }), 'config.toml')}) to build in host mode`);
    }
    const sandboxed = args.isolation === 'sandbox' || (args.isolation === undefined && (!trusted || asks));
    if (!sandboxed) {
      checkNetworkFlag(args, false);
      return { config: builder.config, trusted, close: () => builder.close() };
    }
    const user = builder.lading?.user ?? stackUser(builder.image, args.builder);
    const rootfs = await unpackRootfs(builder.image, cacheDir);
    const why = args.isolation === 'sandbox' ? '--isolation sandbox' : !trusted ? 'untrusted builder' : 'the builder asks for it';
    out.log(`Sandbox (${why}): buildpacks run in ${args.builder} as ${user.uid}:${user.gid}${args.network === 'none' ? ', no network' : ''}`);
    const extra = builder.lading?.nodeLayer ? [`${NODE_DIR}/bin`] : [];
    const libs = builder.lading?.nodeLayer && !hasCxxRuntime(rootfs) ? [NODE_LIB_DIR] : [];
    return { config: builder.config, trusted, isolation: await sandbox(rootfs, user, imageEnv(builder.image.config.config?.Env), extra, args.network, libs), close: () => builder.close() };
  } catch (err) {
    await builder.close().catch(() => undefined);
    throw err;
  }
}

function checkNetworkFlag(args: BuilderSelectArgs, sandboxed: boolean): void {
  if (args.network === 'none' && !sandboxed) throw new LadingError('USAGE', '--network none needs a sandboxed build (--isolation sandbox): host-mode buildpacks share the machine\'s network');
}

async function sandbox(rootfs: string, user: { uid: number; gid: number }, env: Record<string, string>, extraPath: string[], network: string | undefined, extraLibraryPath: string[] = []): Promise<Isolation> {
  const tool = await findBwrap();
  return sandboxIsolation({ tool, rootfs, uid: user.uid, gid: user.gid, network: network === 'none' ? 'none' : 'default', imageEnv: env, extraPath, extraLibraryPath });
}

async function findBwrap(): Promise<string> {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/bin', '/usr/local/bin', '/bin']) {
    if (!dir) continue;
    const candidate = join(dir, 'bwrap');
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new LadingError('UNSUPPORTED', 'sandboxed builds need bubblewrap (bwrap) with user namespaces; install the bubblewrap package, or trust the builder (--trust-builder) to build in host mode');
}

function imageEnv(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of list ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

/** `[[trusted-builders]] name = "..."` in `$LADING_HOME/config.toml` (pack's key). */
async function trustedBuilders(env: NodeJS.ProcessEnv): Promise<string[]> {
  const file = join(storeHome({ env }), 'config.toml');
  const table = await readTomlFile(file, 'CONTENT_INVALID', { optional: true });
  if (!table) return [];
  return tomlFields(table, file, 'CONTENT_INVALID').tables('trusted-builders').map((t) => t.string('name'));
}

/** The same builder: equal as written, or the same repository (a listed name without a tag trusts every tag). */
function sameBuilder(listed: string, given: string): boolean {
  if (listed === given) return true;
  try {
    const a = parseReference(listed);
    const b = parseReference(given);
    if (a.transport !== b.transport) return false;
    if (a.transport === 'oci' && b.transport === 'oci') return resolve(a.path) === resolve(b.path) && (a.tag === undefined || a.tag === b.tag);
    const repo = (r: typeof a) => (r.transport === 'docker' ? r : r.transport === 'store' ? r.name : undefined);
    const ra = repo(a);
    const rb = repo(b);
    if (!ra || !rb) return false;
    if (ra.registry !== rb.registry || ra.repository !== rb.repository) return false;
    return (ra.tag === undefined && ra.digest === undefined) || familiarName(ra) === familiarName(rb);
  } catch {
    return false;
  }
}
