import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { LadingError } from '../../registry/oci/index.js';
import { parseToml, readTextFile, tomlFields, type TomlTable } from './toml-file.js';

/** Layer types from `[types]` in `<layer>.toml`; a missing table or key is false (buildpack.md "Layer Types"). */
export interface LayerTypes {
  launch: boolean;
  build: boolean;
  cache: boolean;
}

export interface LayerMetadataFile {
  types: LayerTypes;
  /** The free-form `[metadata]` table. */
  metadata: TomlTable;
}

export interface BuildpackLayer extends LayerMetadataFile {
  name: string;
  /** `<layers>/<bp>/<name>` — after processing, an all-false layer's directory lives at `<dir>.ignore`. */
  dir: string;
  tomlPath: string;
  /** Whether `<layers>/<bp>/<name>/` existed when the buildpack finished (false = reuse from the previous image). */
  hasDir: boolean;
}

/** Names a layer may not have: they collide with `build.toml`, `launch.toml` and `store.toml`. */
export const RESERVED_LAYER_NAMES: ReadonlySet<string> = new Set(['build', 'launch', 'store']);

export type WarningSink = (message: string) => void;

/** Parses `<layer>.toml`. Type flags outside `[types]` (pre-0.6 format) are ignored with a warning. */
export function parseLayerMetadata(text: string, file: string, onWarning?: WarningSink): LayerMetadataFile {
  const root = tomlFields(parseToml(text, file, 'BUILD'), file, 'BUILD');
  const legacy = ['launch', 'build', 'cache'].filter((k) => root.has(k));
  if (legacy.length > 0) {
    onWarning?.(`${file}: top-level ${legacy.join(', ')} ignored; layer types belong in the [types] table`);
  }
  const types = root.table_('types');
  return {
    types: { launch: types.boolean('launch'), build: types.boolean('build'), cache: types.boolean('cache') },
    metadata: root.freeTable('metadata'),
  };
}

/** `exec-env` from a layer's `[metadata]`; undefined = every execution environment. */
export function layerExecEnv(layer: LayerMetadataFile, file: string): string[] | undefined {
  return tomlFields(layer.metadata, file, 'BUILD').optionalStringArray('exec-env');
}

/**
 * The `<layer>.toml` the lifecycle writes before a rebuild: the metadata only, never `[types]` (buildpack.md
 * "Reusing Layers"), so a buildpack must re-declare the types to keep the layer.
 */
export function restoredLayerToml(metadata: TomlTable): string {
  return Object.keys(metadata).length === 0 ? '' : stringify({ metadata });
}

/** A `<layer>.toml` with types, as the exporter stores it in the image metadata. */
export function layerToml(file: LayerMetadataFile): string {
  return stringify({ types: file.types, metadata: file.metadata });
}

export function isIgnoredLayer(types: LayerTypes): boolean {
  return !types.launch && !types.build && !types.cache;
}

const CONTRACT_FILES = new Set(['launch.toml', 'build.toml', 'store.toml']);

/**
 * Reads the layers a buildpack left in `bpLayersDir` after its `/bin/build`: every `<layer>.toml` (except
 * launch/build/store.toml), sorted by name. Rejects layer directories with reserved names, and renames the
 * directory of every layer whose types are all false to `<layer>.ignore` so later buildpacks cannot depend
 * on it (buildpack.md "Ignored Layers").
 */
export async function processBuildpackLayers(bpLayersDir: string, onWarning?: WarningSink): Promise<BuildpackLayer[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(bpLayersDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LadingError('IO', `${bpLayersDir}: cannot list layers: ${(err as Error).message}`, { cause: err });
  }
  const dirs = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name));
  for (const name of [...dirs].sort()) {
    if (RESERVED_LAYER_NAMES.has(name)) {
      throw new LadingError(
        'BUILD',
        `${join(bpLayersDir, name)}: layer name "${name}" is reserved (build, launch and store cannot be layer names)`,
      );
    }
  }
  const tomls = entries
    .filter((e) => e.isFile() && e.name.endsWith('.toml') && !CONTRACT_FILES.has(e.name))
    .map((e) => e.name)
    .sort();
  const layers: BuildpackLayer[] = [];
  for (const fileName of tomls) {
    const name = fileName.slice(0, -'.toml'.length);
    const tomlPath = join(bpLayersDir, fileName);
    const parsed = parseLayerMetadata(await readTextFile(tomlPath), tomlPath, onWarning);
    const dir = join(bpLayersDir, name);
    const hasDir = dirs.has(name);
    if (isIgnoredLayer(parsed.types) && hasDir) await renameToIgnore(dir);
    layers.push({ name, dir, tomlPath, hasDir, ...parsed });
  }
  return layers;
}

async function renameToIgnore(dir: string): Promise<void> {
  try {
    await rm(`${dir}.ignore`, { recursive: true, force: true });
    await rename(dir, `${dir}.ignore`);
  } catch (err) {
    throw new LadingError('BUILD', `${dir}: cannot rename ignored layer to ${dir}.ignore: ${(err as Error).message}`, { cause: err });
  }
}
