import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { keepFile } from '../../../registry/keep-file.js';
import { escapeBuildpackId } from '../../buildpack/index.js';
import { linkedTreeState, linkTreeState, treeState } from '../../cache/index.js';
import { CONTENT_MARKER_SUFFIX, readContentMarker, restateContentMarker } from '../export/index.js';

/**
 * The layer tree store (docs/lifecycle.md "Layer tree store"), for trusted buildpacks only: the directory tree
 * of every layer a buildpack sealed with a content key (layer content markers, `<layer>.lading-content.json`) is
 * kept under LADING_HOME/cache/layer-trees as hard links to the same inodes. Before the next build the most
 * recently used tree of each of a buildpack's layers that was not restored is linked into
 * `<layers>/<bp>/.lading-offers/<key>/`, with its `[metadata]` in `<key>.json`; a buildpack filling the layer
 * with the same key takes it with one rename (buildpacks/lib/layer-content.ts `takeOfferedTree`) instead of
 * downloading and unpacking 140 MB again. What was not taken is removed after the build.
 *
 * Hard links share inodes: a store tree is checked before every offer by `linkedTreeState` (paths, modes, sizes,
 * inodes, mtimes; ctimes change with every link) and dropped when it differs from what was stored. A layer
 * changed after sealing is never stored (its tree state no longer matches the marker).
 */
export const OFFERS_DIR = '.lading-offers';
const STORE_VERSION = 1;
/** The format of `<key>.json` beside an offered tree; buildpacks/lib/layer-content.ts reads it (OFFER_VERSION). */
const OFFER_VERSION = 1;
/** Trees kept per buildpack layer, the most recently used first; older ones are removed. */
export const TREES_PER_LAYER = 2;
/** A `tmp/` entry (or an entry no index names) older than this was left by a build that died or lost a race: removed. */
const STALE_TEMP_MS = 60 * 60 * 1000;

interface StoreEntry {
  version: number;
  key: string;
  buildpack: string;
  layer: string;
  metadata: Record<string, unknown>;
  /** `linkedTreeState` of `tree/` when it was stored. */
  state: string;
}

/** A tree offered to, or kept from, a build. */
export interface LayerTreeNote {
  buildpack: string;
  layer: string;
  key: string;
}

const isKey = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const entryDir = (store: string, key: string) => join(store, 'entries', key);
const indexFile = (store: string, bp: string) => join(store, 'index', `${escapeBuildpackId(bp)}.json`);

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

async function readEntry(store: string, key: string): Promise<StoreEntry | undefined> {
  const e = (await readJson(join(entryDir(store, key), 'entry.json'))) as Partial<StoreEntry> | undefined;
  if (e?.version !== STORE_VERSION || e.key !== key || typeof e.state !== 'string' || !e.metadata || typeof e.metadata !== 'object') return undefined;
  return e as StoreEntry;
}

/** `{ <layer name>: [keys, most recently used first] }` of one buildpack. */
async function readIndex(store: string, bp: string): Promise<Record<string, string[]>> {
  const v = (await readJson(indexFile(store, bp))) as { layers?: unknown } | undefined;
  const layers: Record<string, string[]> = {};
  if (v?.layers && typeof v.layers === 'object') {
    for (const [name, keys] of Object.entries(v.layers as Record<string, unknown>)) {
      if (Array.isArray(keys)) layers[name] = keys.filter(isKey);
    }
  }
  return layers;
}

/**
 * Offers the most recently used stored tree of each layer of `buildpacks` that has no directory in `layersDir`
 * now (not restored). Best effort: a store that cannot be read, a damaged entry (removed) or a failed link
 * offers nothing for that layer.
 */
export async function offerLayerTrees(store: string, layersDir: string, buildpacks: readonly string[]): Promise<LayerTreeNote[]> {
  const offered: LayerTreeNote[] = [];
  for (const bp of buildpacks) {
    const bpDir = join(layersDir, escapeBuildpackId(bp));
    for (const [layer, keys] of Object.entries(await readIndex(store, bp))) {
      const key = keys[0];
      if (!key || (await stat(join(bpDir, layer)).then(() => true, () => false))) continue;
      const entry = await readEntry(store, key);
      if (!entry || entry.buildpack !== bp || entry.layer !== layer) continue;
      const tree = join(entryDir(store, key), 'tree');
      const offers = join(bpDir, OFFERS_DIR);
      const partial = join(offers, `.partial-${key}`);
      try {
        await mkdir(offers, { recursive: true });
        await rm(partial, { recursive: true, force: true });
        // linked and checked in one walk
        if (linkTreeState(tree, partial) !== entry.state) {
          // Changed in place through a link since it was stored: not the sealed content any more.
          await rm(partial, { recursive: true, force: true });
          await rm(entryDir(store, key), { recursive: true, force: true }).catch(() => undefined);
          continue;
        }
        await rename(partial, join(offers, key));
        await writeFile(join(offers, `${key}.json`), `${JSON.stringify({ version: OFFER_VERSION, key, metadata: entry.metadata })}\n`);
        offered.push({ buildpack: bp, layer, key });
      } catch {
        // another filesystem (EXDEV), the entry pruned meanwhile, no space: build it as usual
        await rm(partial, { recursive: true, force: true }).catch(() => undefined);
      }
    }
  }
  return offered;
}

/** Removes what the buildpacks did not take (`<layers>/<bp>/.lading-offers`). */
export async function withdrawLayerTrees(layersDir: string, buildpacks: readonly string[]): Promise<void> {
  await Promise.all(buildpacks.map((bp) => rm(join(layersDir, escapeBuildpackId(bp), OFFERS_DIR), { recursive: true, force: true })));
}

/**
 * After the build: keeps the tree of every layer `buildpacks` sealed and left as sealed that the store lacks,
 * and marks each sealed key as the layer's most recently used. Linking changes the layer's tree state (files
 * now have two links, so their ctime no longer counts), so the marker's state is recomputed for the exporter.
 * Best effort: the store only saves time.
 */
export async function keepLayerTrees(store: string, layersDir: string, buildpacks: readonly string[]): Promise<LayerTreeNote[]> {
  const kept: LayerTreeNote[] = [];
  for (const bp of buildpacks) {
    const bpDir = join(layersDir, escapeBuildpackId(bp));
    const names = (await readdir(bpDir).catch(() => [] as string[])).filter((n) => n.endsWith(CONTENT_MARKER_SUFFIX)).sort();
    const used: Array<[string, string]> = [];
    for (const file of names) {
      const layer = file.slice(0, -CONTENT_MARKER_SUFFIX.length);
      const dir = join(bpDir, layer);
      const marker = await readContentMarker(dir);
      if (!marker) continue;
      const key = marker.key;
      if (await readEntry(store, key)) {
        used.push([layer, key]);
        continue;
      }
      if ((await treeState(dir)) !== marker.state) continue; // changed after sealing
      const metadata = await layerMetadata(join(bpDir, `${layer}.toml`));
      if (!metadata) continue;
      const temp = join(store, 'tmp', randomBytes(8).toString('hex'));
      let stored = false;
      try {
        await mkdir(temp, { recursive: true });
        linkTreeState(dir, join(temp, 'tree'));
        // the store tree's own state: its directories are new inodes, so it differs from the layer's
        const state = linkedTreeState(join(temp, 'tree'));
        if (state === undefined) throw new Error('vanished');
        const entry: StoreEntry = { version: STORE_VERSION, key, buildpack: bp, layer, metadata, state };
        await writeFile(join(temp, 'entry.json'), `${JSON.stringify(entry)}\n`);
        await mkdir(join(store, 'entries'), { recursive: true });
        await rename(temp, entryDir(store, key));
        stored = true;
      } catch {
        // another filesystem, no space, or another build stored the same key first
      } finally {
        if (!stored) await rm(temp, { recursive: true, force: true }).catch(() => undefined);
      }
      // Links were made (and maybe removed): the sealed tree's state is now this.
      const state = await treeState(dir);
      if (state !== undefined) await restateContentMarker(dir, marker, state);
      if (stored) {
        kept.push({ buildpack: bp, layer, key });
        used.push([layer, key]);
      }
    }
    if (used.length > 0) await markUsed(store, bp, used);
  }
  // Only a build that stores has anything to clean up after (not every no-op rebuild).
  if (kept.length > 0) await sweepStale(store);
  return kept;
}

/** `[metadata]` of a `<layer>.toml` as JSON can hold it; undefined when unreadable or not plain data. */
async function layerMetadata(tomlPath: string): Promise<Record<string, unknown> | undefined> {
  try {
    const doc = parse(await readFile(tomlPath, 'utf8')) as Record<string, unknown>;
    const metadata = (doc['metadata'] ?? {}) as Record<string, unknown>;
    const json = JSON.stringify(metadata);
    // dates and other TOML-only values do not survive JSON: such a layer is not offered later
    return JSON.stringify(JSON.parse(json)) === json && isPlain(metadata) ? (JSON.parse(json) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isPlain(v: unknown): boolean {
  if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) return true;
  if (Array.isArray(v)) return v.every(isPlain);
  if (typeof v !== 'object') return false;
  // smol-toml makes tables without a prototype; its dates are TomlDate objects, which JSON turns into strings
  const proto = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && Object.values(v as object).every(isPlain);
}

/** Moves `keys` to the front of their layers' lists and removes the trees beyond TREES_PER_LAYER. */
async function markUsed(store: string, bp: string, used: ReadonlyArray<[string, string]>): Promise<void> {
  const index = await readIndex(store, bp);
  const dropped: string[] = [];
  for (const [layer, key] of used) {
    const keys = [key, ...(index[layer] ?? []).filter((k) => k !== key)];
    index[layer] = keys.slice(0, TREES_PER_LAYER);
    dropped.push(...keys.slice(TREES_PER_LAYER));
  }
  const sorted = Object.fromEntries(Object.entries(index).sort(([a], [b]) => (a < b ? -1 : 1)));
  await keepFile(indexFile(store, bp), `${JSON.stringify({ version: STORE_VERSION, layers: sorted })}\n`);
  for (const key of dropped) await rm(entryDir(store, key), { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Removes what a build that died while storing left in `tmp/`, and entries no index names: concurrent builds
 * that stored trees of the same layer each write the index, and the last one wins, so the other's entry would
 * otherwise stay for good. Only stale ones, so a build that has stored an entry and not yet indexed it keeps it.
 * Run by a build that stored a tree.
 */
async function sweepStale(store: string): Promise<void> {
  const stale = async (path: string) => {
    const st = await stat(path).catch(() => undefined);
    return st !== undefined && Date.now() - st.mtimeMs > STALE_TEMP_MS;
  };
  const tmp = join(store, 'tmp');
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    if (await stale(join(tmp, name))) await rm(join(tmp, name), { recursive: true, force: true }).catch(() => undefined);
  }
  const entries = await readdir(join(store, 'entries')).catch(() => [] as string[]);
  if (entries.length === 0) return;
  const indexed = new Set<string>();
  for (const file of await readdir(join(store, 'index')).catch(() => [] as string[])) {
    const v = (await readJson(join(store, 'index', file))) as { layers?: Record<string, unknown> } | undefined;
    for (const keys of Object.values(v?.layers ?? {})) if (Array.isArray(keys)) for (const k of keys) if (isKey(k)) indexed.add(k);
  }
  for (const key of entries) {
    if (!indexed.has(key) && (await stale(entryDir(store, key)))) await rm(entryDir(store, key), { recursive: true, force: true }).catch(() => undefined);
  }
}
