import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildpackDescriptor, SbomExtension } from './descriptor.js';
import { SBOM_MEDIA_TYPES } from './descriptor.js';
import { LayerEnv, type EnvScope } from './env.js';
import { BuildpackError } from './errors.js';
import { cycloneDxDocument, sbomJson, spdxDocument, type SbomComponent, type SbomOptions } from './sbom.js';
import { isTable, readTomlFile, writeTomlFile, type TomlTable } from './toml-file.js';

/** `[types]` of `<layer>.toml` (buildpack.md "Layer Types"); unset means false. */
export interface LayerTypes {
  launch?: boolean;
  build?: boolean;
  cache?: boolean;
}

export const RESERVED_LAYER_NAMES: ReadonlySet<string> = new Set(['build', 'launch', 'store']);
const WRITTEN_SBOMS: readonly SbomExtension[] = ['cdx.json', 'spdx.json'];

/** What the SBOM writers need from the buildpack: its declared formats and its name for the tool entry. */
interface SbomSettings {
  buildpack: Pick<BuildpackDescriptor, 'id' | 'version' | 'sbomFormats'>;
  sourceDateEpoch?: number;
}

async function writeSboms(base: string, name: string, components: readonly SbomComponent[], s: SbomSettings): Promise<string[]> {
  const declared = WRITTEN_SBOMS.filter((ext) => s.buildpack.sbomFormats.includes(SBOM_MEDIA_TYPES[ext]));
  if (declared.length === 0) {
    throw new BuildpackError(
      'INVALID_OUTPUT',
      `buildpack.toml of ${s.buildpack.id} declares no SBOM format the SDK writes; add "${SBOM_MEDIA_TYPES['cdx.json']}" and/or "${SBOM_MEDIA_TYPES['spdx.json']}" to sbom-formats`,
    );
  }
  const opts: SbomOptions = { name, tool: { name: s.buildpack.id, version: s.buildpack.version } };
  if (s.sourceDateEpoch !== undefined) opts.sourceDateEpoch = s.sourceDateEpoch;
  const written: string[] = [];
  for (const ext of declared) {
    const doc = ext === 'cdx.json' ? cycloneDxDocument(components, opts) : spdxDocument(components, opts);
    const file = `${base}.sbom.${ext}`;
    await writeFile(file, sbomJson(doc));
    written.push(file);
  }
  return written;
}

/** One layer of this buildpack: `<layers>/<name>/`, `<name>.toml` and `<name>.sbom.<ext>`. */
export class Layer {
  readonly name: string;
  readonly path: string;
  readonly tomlPath: string;
  types: Required<LayerTypes>;
  /** `[metadata]` as restored from the previous build or cache (never carries types); undefined if none was. */
  readonly restoredMetadata: TomlTable | undefined;
  /** `[metadata]` written at the end of the build. Starts as the restored metadata. */
  metadata: TomlTable;
  readonly #sbom: SbomSettings;

  constructor(layersDir: string, name: string, types: LayerTypes, restored: TomlTable | undefined, sbom: SbomSettings) {
    this.name = name;
    this.path = join(layersDir, name);
    this.tomlPath = join(layersDir, `${name}.toml`);
    this.types = { launch: types.launch ?? false, build: types.build ?? false, cache: types.cache ?? false };
    this.restoredMetadata = restored;
    this.metadata = restored ? { ...restored } : {};
    this.#sbom = sbom;
  }

  /** Env files of this layer; scope `all` (env/), `build`, `launch` or `{ process }`. */
  env(scope: EnvScope = 'all'): LayerEnv {
    return new LayerEnv(this.path, scope);
  }

  /** Whether the layer directory exists (restored from the cache, or created in this build). */
  async exists(): Promise<boolean> {
    try {
      return (await stat(this.path)).isDirectory();
    } catch {
      return false;
    }
  }

  /** Removes restored contents, metadata and SBOMs and leaves an empty directory to build into. */
  async reset(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
    for (const ext of Object.keys(SBOM_MEDIA_TYPES)) await rm(`${this.path}.sbom.${ext}`, { force: true });
    this.metadata = {};
    await mkdir(this.path, { recursive: true });
  }

  /** Writes `<layer>.sbom.cdx.json` / `.spdx.json` for the formats buildpack.toml declares; returns the files. */
  writeSbom(components: readonly SbomComponent[]): Promise<string[]> {
    return writeSboms(this.path, `${this.#sbom.buildpack.id}/${this.name}`, components, this.#sbom);
  }

  /** The `<layer>.toml` table: `[types]` always, `[metadata]` when not empty. */
  toml(): TomlTable {
    const t: TomlTable = { types: { ...this.types } };
    if (Object.keys(this.metadata).length) t['metadata'] = this.metadata;
    return t;
  }
}

/** The buildpack's layers directory (CNB_LAYERS_DIR): hands out layers and writes their TOML at the end. */
export class Layers {
  readonly dir: string;
  readonly #layers = new Map<string, Layer>();
  readonly #sbom: SbomSettings;

  constructor(dir: string, sbom: SbomSettings) {
    this.dir = dir;
    this.#sbom = sbom;
  }

  /**
   * The layer `name` with the given types, carrying any restored metadata. Does not create the directory:
   * call `reset()` (or use `contributeLayer`) to build it, so a restored launch layer can be reused as is.
   */
  async layer(name: string, types: LayerTypes = {}): Promise<Layer> {
    if (!name || name.includes('/') || name.startsWith('.') || name.endsWith('.toml')) {
      throw new BuildpackError('INVALID_OUTPUT', `invalid layer name "${name}"`);
    }
    if (RESERVED_LAYER_NAMES.has(name)) {
      throw new BuildpackError('INVALID_OUTPUT', `layer name "${name}" is reserved (build, launch and store are contract files)`);
    }
    const existing = this.#layers.get(name);
    if (existing) {
      existing.types = { launch: types.launch ?? false, build: types.build ?? false, cache: types.cache ?? false };
      return existing;
    }
    const file = join(this.dir, `${name}.toml`);
    const doc = await readTomlFile(file);
    const restored = doc && isTable(doc['metadata']) ? doc['metadata'] : undefined;
    const layer = new Layer(this.dir, name, types, restored, this.#sbom);
    this.#layers.set(name, layer);
    return layer;
  }

  /** The layers handed out so far, by name. */
  list(): Layer[] {
    return [...this.#layers.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** `launch.sbom.<ext>` or `build.sbom.<ext>`: components not tied to a layer. */
  writeSbom(kind: 'launch' | 'build', components: readonly SbomComponent[]): Promise<string[]> {
    return writeSboms(join(this.dir, kind), `${this.#sbom.buildpack.id}/${kind}`, components, this.#sbom);
  }

  /** Writes `<layer>.toml` for every layer handed out (called by runBuild after the build function). */
  async writeLayerTomls(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const layer of this.list()) await writeTomlFile(layer.tomlPath, layer.toml());
  }
}
