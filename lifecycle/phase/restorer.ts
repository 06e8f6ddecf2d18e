import { mkdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { stringify } from 'smol-toml';
import { LadingError, isLadingError, type Digest } from '../../registry/oci/index.js';
import { escapeBuildpackId, restoredLayerToml, type TomlTable } from '../buildpack/index.js';
import { extractLayerTar, noteRestoredTree, treeState, type LayerCache } from '../cache/index.js';
import type { BuildpackLayersMetadata, CacheMetadata, LayerMetadataEntry } from '../platform/index.js';
import type { Analyzed } from './analyzer.js';

/** Where the layers directory is in the image (and so in cached layer tars). */
export const DEFAULT_LAYERS_MOUNT = '/layers';

export interface RestoreInput {
  /** `<layers>` on this machine. */
  layersDir: string;
  /** The detected group, in order. */
  group: readonly { id: string }[];
  analyzed: Pick<Analyzed, 'previousImage'>;
  cache?: LayerCache;
  /** Image path of the layers directory (default `/layers`). */
  layersMount?: string;
  /** `CNB_SKIP_LAYERS`: write store.toml only. */
  skipLayers?: boolean;
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface RestoredLayer {
  buildpackId: string;
  name: string;
  /** `metadata`: `<layer>.toml` only (launch layer of the previous image); `contents`: also its directory. */
  restored: 'metadata' | 'contents';
  diffId: string;
}

export interface RestoreResult {
  layers: RestoredLayer[];
  /** The cache metadata read, for the exporter to know what the cache already holds. */
  cache: CacheMetadata;
}

/**
 * Phase "restore" (platform.md `restorer`, buildpack.md "Layer Types"): for each buildpack of the group, writes
 * `store.toml` from the previous image, and restores layers:
 * - launch (not cache) layers of the previous image: `<layer>.toml` only;
 * - cache (not launch) layers: `<layer>.toml` and contents from the cache;
 * - launch + cache layers: both, only when the cache's diffID equals the previous image's.
 * Restored `<layer>.toml` files have no `[types]` ("Reusing Layers"). Contents are unpacked before the
 * metadata is written, all or nothing, so a damaged cache entry is skipped with a warning, never half-restored.
 * Failures are RESTORE (exit 42).
 */
export async function restore(input: RestoreInput): Promise<RestoreResult> {
  try {
    const cacheMeta = input.cache && !input.skipLayers ? await input.cache.read() : { buildpacks: [] };
    const previous = input.analyzed.previousImage?.metadata.buildpacks ?? [];
    const out: RestoredLayer[] = [];
    for (const { id } of input.group) {
      const bpDir = join(input.layersDir, escapeBuildpackId(id));
      const fromImage = previous.find((b) => b.key === id);
      const fromCache = cacheMeta.buildpacks.find((b) => b.key === id);
      if (fromImage?.store) await writeBpFile(bpDir, 'store.toml', stringify({ metadata: fromImage.store.metadata as TomlTable }));
      if (input.skipLayers) continue;
      for (const plan of planLayers(fromImage, fromCache)) {
        input.signal?.throwIfAborted();
        if (plan.contents) {
          const imagePath = posix.join(input.layersMount ?? DEFAULT_LAYERS_MOUNT, escapeBuildpackId(id), plan.name);
          const dir = join(bpDir, plan.name);
          try {
            // an unpacked copy the cache kept is moved in (one rename); else the tar is unpacked
            if (input.cache!.takeTree) await mkdir(bpDir, { recursive: true });
            const moved = await input.cache!.takeTree?.(plan.entry.sha as Digest, dir).catch(() => undefined);
            if (!moved) await extractLayerTar(await input.cache!.open(plan.entry.sha as Digest), imagePath.slice(1), dir);
            const state = moved ?? (await treeState(dir));
            if (state) noteRestoredTree(input.cache!, dir, { diffId: plan.entry.sha as Digest, imagePath, state });
          } catch (err) {
            if (input.signal?.aborted) throw err;
            input.onWarning?.(`not restoring cached layer ${id}:${plan.name}: ${(err as Error).message}`);
            continue;
          }
        }
        await writeBpFile(bpDir, `${plan.name}.toml`, restoredLayerToml(plan.entry.data as TomlTable));
        out.push({ buildpackId: id, name: plan.name, restored: plan.contents ? 'contents' : 'metadata', diffId: plan.entry.sha });
      }
    }
    return { layers: out, cache: cacheMeta };
  } catch (err) {
    if (isLadingError(err) && (err.code === 'RESTORE' || err.code === 'INTERRUPTED')) throw err;
    if (input.signal?.aborted) throw new LadingError('INTERRUPTED', 'restore cancelled', { cause: err });
    throw new LadingError('RESTORE', `restoring layers into ${input.layersDir}: ${(err as Error).message}`, { cause: err });
  }
}

interface LayerPlan {
  name: string;
  entry: LayerMetadataEntry;
  contents: boolean;
}

/** Which layers of one buildpack to restore, by name, following the Layer Types table. */
function planLayers(fromImage: BuildpackLayersMetadata | undefined, fromCache: BuildpackLayersMetadata | undefined): LayerPlan[] {
  const plans: LayerPlan[] = [];
  const names = new Set([...Object.keys(fromImage?.layers ?? {}), ...Object.keys(fromCache?.layers ?? {})]);
  for (const name of [...names].sort()) {
    const app = fromImage?.layers[name];
    const cached = fromCache?.layers[name];
    if (app?.launch && !app.cache) {
      plans.push({ name, entry: app, contents: false });
    } else if (app?.launch && app.cache) {
      if (cached?.cache && cached.sha === app.sha) plans.push({ name, entry: app, contents: true });
    } else if (cached?.cache && !cached.launch) {
      plans.push({ name, entry: cached, contents: true });
    }
  }
  return plans;
}

async function writeBpFile(bpDir: string, name: string, text: string): Promise<void> {
  await mkdir(bpDir, { recursive: true });
  await writeFile(join(bpDir, name), text);
}
