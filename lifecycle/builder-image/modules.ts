import { imageFromSource } from '../../registry/image/index.js';
import { createLayer, type FileLayer } from '../../registry/layers/index.js';
import { LadingError, isDigest, isLadingError, type ContentSource, type Image, type Layer } from '../../registry/oci/index.js';
import { escapeBuildpackId, loadBuildpackCatalog, type BuildpackDescriptor } from '../buildpack/index.js';
import { BUILDPACK_LAYERS_LABEL, jsonLabel, moduleLayerInfo, type BuildpackLayers, type ModuleLayerInfo } from './labels.js';

/** Where a builder or buildpackage keeps a buildpack (distribution.md "Buildpackage"). */
export const CNB_BUILDPACKS_DIR = '/cnb/buildpacks';

export function buildpackImageDir(id: string, version: string): string {
  return `${CNB_BUILDPACKS_DIR}/${escapeBuildpackId(id)}/${version}`;
}

/** One buildpack version as a layer of a builder or buildpackage: its layer and its `buildpack.layers` entry. */
export interface BuildpackModule {
  id: string;
  version: string;
  info: ModuleLayerInfo;
  layer: Layer;
  /** Where it came from, for messages: a directory, a `.cnb` file or an image. */
  origin: string;
}

export interface ModuleLayerOptions {
  tempDir?: string;
  /** Layers being built (FileLayers to dispose when done). */
  created?: FileLayer[];
}

/**
 * A buildpack directory as one layer holding `/cnb/buildpacks/<id>/<version>/`: root-owned (buildpacks never
 * write to their own dir), modes normalized, the reproducible tar of every layer writer.
 */
export async function moduleFromDir(bp: BuildpackDescriptor, options: ModuleLayerOptions = {}): Promise<BuildpackModule> {
  const layer = await createLayer(
    { directories: [{ source: bp.dir, target: buildpackImageDir(bp.info.id, bp.info.version) }] },
    { uid: 0, gid: 0, ...(options.tempDir ? { tempDir: options.tempDir } : {}) },
  );
  options.created?.push(layer);
  return { id: bp.info.id, version: bp.info.version, info: moduleLayerInfo(bp, layer.diffId), layer, origin: bp.dir };
}

/** Every buildpack under a directory (a buildpack dir, or dirs of them), each as a module. */
export async function modulesFromDir(dir: string, options: ModuleLayerOptions = {}): Promise<BuildpackModule[]> {
  const catalog = await loadBuildpackCatalog([dir]);
  const out: BuildpackModule[] = [];
  for (const bp of catalog.list()) out.push(await moduleFromDir(bp, options));
  return out;
}

/**
 * The buildpacks of a buildpackage or builder image, read from its `io.buildpacks.buildpack.layers` label:
 * each module keeps the image's own layer (same blob, same diffID), so nothing is re-packed.
 */
export function modulesFromImage(image: Image, what: string): BuildpackModule[] {
  const layers = jsonLabel<BuildpackLayers>(image.config.config?.Labels, BUILDPACK_LAYERS_LABEL, what);
  if (!layers) throw new LadingError('CONTENT_INVALID', `${what}: not a buildpackage or builder (no ${BUILDPACK_LAYERS_LABEL} label)`);
  const out: BuildpackModule[] = [];
  for (const id of Object.keys(layers).sort()) {
    for (const version of Object.keys(layers[id] ?? {}).sort()) {
      const info = layers[id]![version]!;
      const layer = isDigest(info.layerDiffID) ? image.layerByDiffId(info.layerDiffID) : undefined;
      if (!layer) throw new LadingError('CONTENT_INVALID', `${what}: label ${BUILDPACK_LAYERS_LABEL} names ${id}@${version} in layer ${String(info.layerDiffID)}, which the image does not have`);
      out.push({ id, version, info, layer, origin: what });
    }
  }
  return out;
}

/** Reads the image a source names; NOT_FOUND and other failures name `what`. */
export async function readImage(source: ContentSource, what: string): Promise<Image> {
  try {
    return await imageFromSource(source, await source.resolve());
  } catch (err) {
    if (isLadingError(err)) throw new LadingError(err.code, `${what}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Merges modules from several sources: the same id@version twice must be the same layer (diffID), otherwise
 * it is ambiguous. Sorted by id, then version.
 */
export function mergeModules(modules: readonly BuildpackModule[], file: string): BuildpackModule[] {
  const byKey = new Map<string, BuildpackModule>();
  for (const m of modules) {
    const key = `${m.id}@${m.version}`;
    const seen = byKey.get(key);
    if (seen && seen.layer.diffId !== m.layer.diffId) {
      throw new LadingError('CONTENT_INVALID', `${file}: buildpack ${key} comes from ${seen.origin} and from ${m.origin} with different contents`);
    }
    if (!seen) byKey.set(key, m);
  }
  return [...byKey.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}
