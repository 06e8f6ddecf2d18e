import { parse, stringify } from 'smol-toml';
import { BuildpackError } from './errors.js';
import type { Layer, LayerTypes, Layers } from './layer.js';
import { contentKey, programDigest, removeContentMarker, takeOfferedTree, writeContentMarker } from './layer-content.js';
import type { Logger } from './logger.js';
import type { TomlTable } from './toml-file.js';

/** What a layer's contents depend on, and how to build them (libpak's layer contributor idea). */
export interface LayerContribution {
  types: LayerTypes;
  /**
   * Everything the contents depend on: dependency checksum, lockfile hash, flags. Reuse happens only when
   * each of these keys equals the restored `[metadata]`; other metadata keys (set by `build`) are not compared.
   */
  expected: TomlTable;
  /** Fills the (empty) layer directory; may add extra `layer.metadata` entries and env files. */
  build(layer: Layer): Promise<void>;
  /**
   * Declares that the bytes `build` writes are fixed by `expected`, the layer's path, the buildpack's program
   * (every file under `<buildpackDir>/bin`) and `inputs`: downloads verified against checksums in `expected`,
   * nothing from the clock, the network's answers or the host. A freshly built layer is then sealed with a
   * content marker (layer-content.ts), which lets lading's exporter reuse the diffID and blob of an earlier
   * build with the same key instead of packing the directory again, and lets it offer that build's tree (the
   * layer directory and `[metadata]`) to take instead of calling `build` (layer-content.ts `takeOfferedTree`):
   * so `build` must also write nothing outside the layer directory but `layer.metadata`. Say it only when it
   * is true.
   */
  content?: { buildpackDir: string; inputs?: Record<string, unknown> };
}

export interface ContributionResult {
  layer: Layer;
  reused: boolean;
  /** Why the layer was (re)built; undefined when reused. */
  reason?: string;
}

/** A value as it comes back from a `<layer>.toml`, in a canonical JSON form (sorted keys). */
function canonical(value: unknown): string {
  const roundTripped = value === undefined ? undefined : (parse(stringify({ v: value as never })) as TomlTable)['v'];
  return JSON.stringify(roundTripped, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  }) ?? 'undefined';
}

function short(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Decides reuse from the restored metadata — the one place that does. Returns the reason to rebuild, or
 * undefined when the restored layer can be kept.
 */
export async function reuseDecision(layer: Layer, expected: TomlTable): Promise<string | undefined> {
  const restored = layer.restoredMetadata;
  if (!restored) return 'no previous layer';
  const changed = Object.keys(expected)
    .sort()
    .filter((k) => canonical(expected[k]) !== canonical(restored[k]))
    .map((k) => `${k} ${short(canonical(restored[k]))} → ${short(canonical(expected[k]))}`);
  if (changed.length) return `changed: ${changed.join(', ')}`;
  const { launch, build, cache } = layer.types;
  // A restored launch-only layer has metadata but no directory: leaving no directory makes the exporter
  // reuse the previous image's layer (buildpack.md "Launch Layers"). Everything else needs the contents.
  if (launch && !build && !cache) return undefined;
  if (!(await layer.exists())) return 'contents not restored';
  return undefined;
}

/**
 * Reuses the layer `name` when its restored metadata matches `expected`, else clears it and calls `build`.
 * Either way the layer's types are (re)declared and `expected` is written to `[metadata]`.
 * Logs "Reusing layer X" or "Building layer X (reason)".
 */
export async function contributeLayer(layers: Layers, name: string, c: LayerContribution, logger: Logger): Promise<ContributionResult> {
  const layer = await layers.layer(name, c.types);
  const reason = await reuseDecision(layer, c.expected);
  if (reason === undefined) {
    logger.info(`Reusing layer ${name}`);
    layer.metadata = { ...layer.metadata, ...c.expected };
    return { layer, reused: true };
  }
  logger.info(`Building layer ${name} (${reason})`);
  await layer.reset();
  await removeContentMarker(layer.path);
  const program = c.content ? await programDigest(c.content.buildpackDir) : undefined;
  const key = c.content && program ? contentKey({ program, layer: name, path: layer.path, types: layer.types, expected: c.expected, inputs: c.content.inputs ?? {} }) : undefined;
  const offered = key ? await takeOfferedTree(layers.dir, key, layer.path) : undefined;
  if (offered) {
    logger.info(`  The same content as an earlier build on this machine: linked from lading's layer tree store`);
    layer.metadata = offered as TomlTable;
  } else {
    try {
      await c.build(layer);
    } catch (err) {
      if (err instanceof BuildpackError) throw err;
      throw new BuildpackError('BUILD_FAILED', `building layer ${name} failed: ${(err as Error).message ?? String(err)}`, { cause: err });
    }
  }
  layer.metadata = { ...layer.metadata, ...c.expected };
  if (key) await writeContentMarker(layer.path, key);
  return { layer, reused: false, reason };
}
