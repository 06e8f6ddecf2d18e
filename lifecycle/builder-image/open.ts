import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hexOf, isDigest, LadingError, type ContentSource, type Image, type Layer } from '../../registry/oci/index.js';
import { openSource, type OpenOptions } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import { escapeBuildpackId, readEnvDir, type GroupEntry, type Order } from '../buildpack/index.js';
import { extractLayerTar } from '../cache/index.js';
import { RUN_IMAGE_FLAVORS, type BuilderConfig, type BuilderRunImage, type RunImageFlavor } from '../platform/index.js';
import {
  BUILDER_METADATA_LABEL, BUILDPACK_ORDER_LABEL, BUILDPACK_SYSTEM_LABEL, LADING_BUILDER_LABEL, jsonLabel, orderFromLabel,
  type BuilderMetadata, type LadingBuilderMetadata,
} from './labels.js';
import { modulesFromImage, readImage, type BuildpackModule } from './modules.js';

/** A builder image, read: its labels and the config a build uses (buildpacks unpacked on this machine). */
export interface BuilderImage {
  /** The reference as given. */
  name: string;
  image: Image;
  source: ContentSource;
  metadata: BuilderMetadata;
  lading?: LadingBuilderMetadata;
  modules: BuildpackModule[];
  /** What `lading build` uses: buildpack dirs under the cache, order (system buildpacks merged), run images, env. */
  config: BuilderConfig;
  close(): Promise<void>;
}

export interface OpenBuilderOptions extends OpenOptions {
  /** Where unpacked buildpacks and build-config are kept, by diffID (e.g. `<store>/cache/builders`). */
  cacheDir: string;
}

/** Whether `ref` names a builder directory (a dir, or a builder.toml file) rather than an image. */
export async function isBuilderDirectory(ref: string): Promise<boolean> {
  if (/^(oci|oci-archive|docker|docker-archive):/.test(ref)) return false;
  return stat(ref).then(() => true, () => false);
}

/**
 * Opens a builder image (registry, local store name, `oci:`): reads its labels, unpacks each buildpack layer
 * once into `cacheDir/buildpacks/<diffID>` (shared by every builder with that layer) and its build-config env.
 */
export async function openBuilderImage(ref: string, options: OpenBuilderOptions): Promise<BuilderImage> {
  const source = await openSource(parseReference(ref), options);
  try {
    const image = await readImage(source, `builder ${ref}`);
    const labels = image.config.config?.Labels;
    const what = `builder ${ref}`;
    const metadata = jsonLabel<BuilderMetadata>(labels, BUILDER_METADATA_LABEL, what);
    if (!metadata) throw new LadingError('CONTENT_INVALID', `${what}: not a builder image (no ${BUILDER_METADATA_LABEL} label)`);
    const lading = jsonLabel<LadingBuilderMetadata>(labels, LADING_BUILDER_LABEL, what);
    const modules = modulesFromImage(image, what);
    const orderJson = jsonLabel<unknown>(labels, BUILDPACK_ORDER_LABEL, what);
    if (orderJson === undefined) throw new LadingError('CONTENT_INVALID', `${what}: has no ${BUILDPACK_ORDER_LABEL} label`);
    const order = orderFromLabel(orderJson, `${what}: label ${BUILDPACK_ORDER_LABEL}`);
    const system = jsonLabel<{ pre?: { buildpacks?: unknown[] }; post?: { buildpacks?: unknown[] } }>(labels, BUILDPACK_SYSTEM_LABEL, what);
    const sys = (list: unknown[] | undefined) => (list ? orderFromLabel([{ group: list }], `${what}: label ${BUILDPACK_SYSTEM_LABEL}`)[0] ?? [] : []);
    const pre = sys(system?.pre?.buildpacks);
    const post = sys(system?.post?.buildpacks);
    const dirs: string[] = [];
    for (const m of modules) dirs.push(await unpackModule(m, options.cacheDir));
    const configLayer = lading && isDigest(lading.configLayer) ? image.layerByDiffId(lading.configLayer) : image.layers.at(-1);
    const buildEnv = configLayer ? await readBuildConfigEnv(configLayer, options.cacheDir) : [];
    const runImages: BuilderRunImage[] = (metadata.images ?? []).map((i) => ({
      image: i.image,
      mirrors: i.mirrors ?? [],
      ...((RUN_IMAGE_FLAVORS as readonly string[]).includes(i.flavor ?? '') ? { flavor: i.flavor as RunImageFlavor } : {}),
    }));
    if (runImages.length === 0 && metadata.stack?.runImage?.image) runImages.push({ image: metadata.stack.runImage.image, mirrors: metadata.stack.runImage.mirrors ?? [] });
    const config: BuilderConfig = {
      file: what,
      dir: options.cacheDir,
      ...(metadata.description ? { description: metadata.description } : {}),
      buildpacks: dirs.map((dir, i) => ({ key: `buildpacks[${i}]`, dir })),
      order: withSystem(order, pre, post),
      runImages,
      buildImage: ref,
      buildEnv,
      system: { pre, post },
    };
    return {
      name: ref, image, source, metadata, ...(lading ? { lading } : {}), modules, config,
      close: () => source.close(),
    };
  } catch (err) {
    await source.close().catch(() => undefined);
    throw err;
  }
}

/** platform.md `system.toml`: pre/post buildpacks join every group that does not already have their id. */
function withSystem(order: Order, pre: readonly GroupEntry[], post: readonly GroupEntry[]): Order {
  if (pre.length + post.length === 0) return order;
  return order.map((g) => {
    const ids = new Set(g.map((e) => e.id));
    return [...pre.filter((e) => !ids.has(e.id)), ...g, ...post.filter((e) => !ids.has(e.id))];
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** `cacheDir/buildpacks/<diffID hex>`, the buildpack's directory, unpacked once (atomically). */
export async function unpackModule(m: BuildpackModule, cacheDir: string): Promise<string> {
  const dest = join(cacheDir, 'buildpacks', hexOf(m.layer.diffId));
  const dir = join(dest, escapeBuildpackId(m.id), m.version);
  if (await exists(join(dir, 'buildpack.toml'))) return dir;
  await unpackOnce(m.layer, `cnb/buildpacks/${escapeBuildpackId(m.id)}/${m.version}`, dest, join(escapeBuildpackId(m.id), m.version));
  if (!(await exists(join(dir, 'buildpack.toml')))) {
    throw new LadingError('CONTENT_INVALID', `${m.origin}: layer ${m.layer.diffId} has no /cnb/buildpacks/${escapeBuildpackId(m.id)}/${m.version}/buildpack.toml`);
  }
  return dir;
}

/** Unpacks the entries under `prefix` of a layer to `dest/<sub>`, via a temp dir renamed into place. */
async function unpackOnce(layer: Layer, prefix: string, dest: string, sub: string): Promise<void> {
  const tmp = `${dest}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await mkdir(tmp, { recursive: true });
    await extractLayerTar(await layer.uncompressed(), prefix, join(tmp, sub));
    await mkdir(join(dest, '..'), { recursive: true });
    await rename(tmp, dest).catch(async (err: NodeJS.ErrnoException) => {
      // Another build unpacked the same layer first: its copy is identical.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The builder's `/cnb/build-config/env` files as operator env files (no suffix = default). */
async function readBuildConfigEnv(layer: Layer, cacheDir: string): Promise<ReturnType<typeof readEnvDir> extends Promise<infer T> ? T : never> {
  const dest = join(cacheDir, 'build-config', hexOf(layer.diffId));
  if (!(await exists(join(dest, 'env')))) await unpackOnce(layer, 'cnb/build-config/env', dest, 'env');
  return readEnvDir(join(dest, 'env'), 'default');
}
