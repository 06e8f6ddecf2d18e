import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { LadingError, isLadingError, type ContentSink, type Digest, type Image, type Layer } from '../../registry/oci/index.js';
import { writeImage } from '../../registry/image/index.js';
import { createLayers, DEFAULT_CONTENT_ID, keptLayer, type FileLayer, type LayerSpec } from '../../registry/layers/index.js';
import { appendLayers, NORMALIZED_TIME, withConfig, withCreated, type Addendum } from '../../registry/mutate/index.js';
import {
  escapeBuildpackId, readLayerEnv, type BuildpackProcess, type Label, type LayerEnvSource, type LayerTypes, type SbomFile,
  type Slice, type TomlTable,
} from '../buildpack/index.js';
import { treeState, unchangedRestoredTree, type CacheWriteResult, type LayerCache } from '../cache/index.js';
import {
  BUILD_METADATA_LABEL, LIFECYCLE_METADATA_LABEL, PROJECT_METADATA_LABEL, REBASABLE_LABEL, parseBuildMetadata, serializeBuildMetadata,
  serializeLifecycleMetadata, serializeProjectMetadata, serializeReport, type BuildpackLayersMetadata, type ProjectMetadata,
} from '../platform/index.js';
import type { Analyzed } from './analyzer.js';
import {
  LAYER_ENV_LABEL, launchConfig, layerEnvFromLabel, recallDigest, rememberDigest, runImageHasShell, sealedLayer, serializeLayerEnv, sliceMatcher,
  type SealedLayer,
} from './export/index.js';
import { DEFAULT_LAYERS_MOUNT } from './restorer.js';

/**
 * What the exporter needs from the build phase, per buildpack in group order (the builder produces it):
 * the layers it left (after `.ignore` renaming), its store.toml, and the merged launch outputs.
 */
export interface ExportBuildpack {
  id: string;
  version: string;
  homepage?: string;
  layers: readonly ExportLayer[];
  /** store.toml `[metadata]`. */
  store?: TomlTable;
}

export interface ExportLayer {
  name: string;
  /** `<layers>/<bp>/<name>` on this machine. */
  dir: string;
  /** false: `<layer>.toml` without a directory — a launch layer to reuse from the previous image. */
  hasDir: boolean;
  types: LayerTypes;
  metadata: TomlTable;
}

export interface BuildResult {
  buildpacks: readonly ExportBuildpack[];
  /** Processes merged over the group (mergeProcesses), the default already resolved. */
  processes: readonly BuildpackProcess[];
  defaultType?: string;
  labels: readonly Label[];
  slices: readonly Slice[];
  /** SBOM files of launch scope with the buildpack that wrote them. */
  sboms: readonly { buildpackId: string; file: SbomFile }[];
}

export interface ExportInput {
  build: BuildResult;
  analyzed: Analyzed;
  /** The app directory on this machine. */
  appDir: string;
  /** Opened by the caller (registry, store, layout); committed here only when everything is written. */
  sink: ContentSink;
  /** Tag references written, for report.toml. */
  tags?: string[];
  appMount?: string;
  layersMount?: string;
  /** The stack's CNB_USER_ID / CNB_GROUP_ID (default 1000:1000). */
  uid?: number;
  gid?: number;
  /** Image `created`; see `creationTime`. */
  created?: string;
  /** `-D`: overrides the buildpacks' default process type. */
  defaultProcess?: string;
  project?: ProjectMetadata;
  /** Whether the run image has /bin/sh; read from its layers when not given. */
  runImageHasShell?: boolean;
  /** Where facts read from run images' layers are kept by their diffIDs (LADING_HOME/cache/run-packages). */
  runImageCacheDir?: string;
  cache?: LayerCache;
  tempDir?: string;
  /** Where compressed blobs of large layers are kept between builds (registry/layers blob-cache.ts). */
  blobCacheDir?: string;
  /**
   * Where diffIDs of layers sealed by their buildpack (content markers, export/layer-digests.ts) are kept
   * between builds; with `blobCacheDir`, such a layer seen before is taken from there without packing it.
   * Give it only for trusted buildpacks: a marker's key is the buildpack's word.
   */
  layerDigestsDir?: string;
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface ExportedLayer {
  name: string;
  diffId: Digest;
  digest: Digest;
  size: number;
  /** Not sent: the sink had the blob (reused from the previous image, or identical content). */
  reused: boolean;
  /** Not packed: sealed by its buildpack and seen before (diffID remembered, blob from the blob cache). */
  recalled?: true;
}

export interface ExportResult {
  image: Image;
  location: string;
  digest: Digest;
  manifestSize: number;
  /** The layers on top of the run image, in image order. */
  layers: ExportedLayer[];
  /** Blobs sent to the sink (layers and config). */
  uploaded: number;
  /** report.toml contents. */
  report: string;
  cache?: CacheWriteResult;
  /** The files of the image's CNB SBOM layer (path in the layer without the leading slash → contents). */
  sbomFiles: [string, Buffer][];
}

/** `created`: `now`, else SOURCE_DATE_EPOCH (seconds), else 1980-01-01T00:00:01Z (platform.md "Build Reproducibility"). */
export function creationTime(env: Readonly<Record<string, string | undefined>>, option?: 'now' | number): string {
  if (option === 'now') return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const epoch = option ?? (env['SOURCE_DATE_EPOCH'] !== undefined && /^\d+$/.test(env['SOURCE_DATE_EPOCH']) ? Number(env['SOURCE_DATE_EPOCH']) : undefined);
  return epoch === undefined ? NORMALIZED_TIME : new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface Planned {
  name: string;
  history: string;
  spec?: LayerSpec;
  reuse?: Layer;
  owner?: { bp: ExportBuildpack; layer: ExportLayer };
  /** A launch+cache layer dir left as restored: its tree state (it is kept from the previous image). */
  keptState?: string;
  /** A launch+cache layer dir packed by this export: its tree state just before packing (see writeCache). */
  packedState?: string;
  /** Sealed by its buildpack and not in the memo yet: remembered once packed. */
  sealed?: SealedLayer;
  /** Taken from the layer-digest memo and the blob cache (not packed). */
  recalled?: true;
  kind: 'launch' | 'sbom' | 'slice' | 'app' | 'process-types';
}

/**
 * Phase "export" (platform.md `exporter`, design.md §3 and §7): run image + launch layers in buildpack order
 * (reused from the previous image by diffID when they have no directory) + the SBOM layer + app slices + the
 * app layer + the `/cnb/process` scripts, config resolved without a launcher, pack-compatible labels; written
 * through the sink and committed last, so nothing is tagged unless the whole image is written. Then saves
 * `cache=true` layers: those the build left exactly as the restore unpacked them are not packed again (their
 * cache entry or the previous image's layer is kept by diffID), and with a cache that keeps unpacked copies
 * (`--cache-dir`) their directories are moved into it, as the layers directory is discarded after export.
 * Failures are EXPORT (exit 62).
 */
export async function exportImage(input: ExportInput): Promise<ExportResult> {
  const built: FileLayer[] = [];
  try {
    return await runExport(input, built);
  } catch (err) {
    await input.sink.abort().catch(() => undefined);
    if (isLadingError(err) && (err.code === 'EXPORT' || err.code === 'INTERRUPTED')) throw err;
    if (input.signal?.aborted) throw new LadingError('INTERRUPTED', `export to ${input.sink.location} cancelled; nothing was tagged`, { cause: err });
    throw new LadingError('EXPORT', `exporting to ${input.sink.location}: ${(err as Error).message}`, { cause: err });
  } finally {
    await Promise.all(built.map((l) => l.dispose()));
  }
}

async function runExport(input: ExportInput, built: FileLayer[]): Promise<ExportResult> {
  const { build, analyzed, signal } = input;
  const appMount = input.appMount ?? '/workspace';
  const layersMount = input.layersMount ?? DEFAULT_LAYERS_MOUNT;
  const uid = input.uid ?? DEFAULT_CONTENT_ID;
  const gid = input.gid ?? DEFAULT_CONTENT_ID;
  const run = analyzed.runImage;
  const previous = analyzed.previousImage;
  const prevEnvLabel = previous?.image.config.config?.Labels?.[LAYER_ENV_LABEL];
  const defaultType = input.defaultProcess ?? build.defaultType;
  if (input.defaultProcess && !build.processes.some((p) => p.type === input.defaultProcess)) {
    throw new LadingError('EXPORT', `default process "${input.defaultProcess}" is not one of the processes (${build.processes.map((p) => p.type).join(', ') || 'none'})`);
  }

  const planned: Planned[] = [];
  const sbomFiles: [string, Buffer][] = [];
  const envByBp = new Map<string, LayerEnvSource[]>();
  const lifecycleBps: BuildpackLayersMetadata[] = [];
  for (const bp of build.buildpacks) {
    const bpPath = posix.join(layersMount, escapeBuildpackId(bp.id));
    const entry: BuildpackLayersMetadata = { key: bp.id, version: bp.version, layers: {} };
    if (bp.store) entry.store = { metadata: bp.store };
    const envs: LayerEnvSource[] = [];
    for (const layer of [...bp.layers].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!layer.types.launch) continue;
      const imagePath = posix.join(bpPath, layer.name);
      const history = `Layer: '${layer.name}', Created by buildpack: ${bp.id}@${bp.version}`;
      const kept = layer.hasDir && layer.types.cache ? await keptFromPrevious(input, layer.dir, imagePath, uid, gid) : undefined;
      if (kept) {
        // Restored from the cache (whose entry is the previous image's layer) and left untouched by the build.
        planned.push({ name: `${bp.id}:${layer.name}`, history, kind: 'launch', owner: { bp, layer }, reuse: kept.layer, keptState: kept.state });
        envs.push(await readLayerEnv(layer.dir, layer.name, imagePath, input.onWarning));
      } else if (layer.hasDir) {
        planned.push({ name: `${bp.id}:${layer.name}`, history, kind: 'launch', owner: { bp, layer }, spec: { directories: [{ source: layer.dir, target: imagePath }] } });
        envs.push(await readLayerEnv(layer.dir, layer.name, imagePath, input.onWarning));
      } else {
        if (layer.types.cache) throw new LadingError('EXPORT', `layer ${bp.id}:${layer.name} is cache=true but has no contents (${layer.dir} is missing)`);
        const sha = previous?.metadata.buildpacks.find((b) => b.key === bp.id)?.layers[layer.name]?.sha;
        const reuse = sha ? previous?.image.layerByDiffId(sha as Digest) : undefined;
        if (!reuse) throw new LadingError('EXPORT', `layer ${bp.id}:${layer.name} has no directory and the previous image has no such layer to reuse`);
        planned.push({ name: `${bp.id}:${layer.name}`, history, kind: 'launch', owner: { bp, layer }, reuse });
        const env = layerEnvFromLabel(prevEnvLabel, bp.id, layer.name, imagePath);
        if (env) envs.push(env);
        else input.onWarning?.(`layer ${bp.id}:${layer.name} is reused from the previous image without a record of its environment; its bin/, lib/ and env files are not applied`);
      }
    }
    for (const e of envs) {
      if (e.execD || e.profileD) {
        input.onWarning?.(`buildpack ${bp.id} layer ${e.name} provides ${[e.execD && 'exec.d', e.profileD && 'profile.d'].filter(Boolean).join(' and ')}, which lading does not run (no launcher); its processes start without them`);
      }
    }
    envByBp.set(bp.id, envs);
    lifecycleBps.push(entry);
  }
  if (build.sboms.length > 0) {
    const entries = build.sboms.map(({ buildpackId, file }) => ({
      type: 'file' as const,
      path: posix.join(layersMount, 'sbom', 'launch', escapeBuildpackId(buildpackId), ...(file.layer ? [file.layer] : []), `sbom.${file.ext}`),
      source: file.path,
    }));
    planned.push({ name: 'sbom', history: 'Software Bill-of-Materials', kind: 'sbom', spec: { entries } });
    // The build is over, so these are the bytes the layer holds: the image SBOM is made from them.
    sbomFiles.push(...(await Promise.all(entries.map(async (e): Promise<[string, Buffer]> => [e.path.slice(1), await readSbomFile(e.source)]))));
  }

  const match = sliceMatcher(build.slices, appMount);
  build.slices.forEach((_, i) => {
    const filter = (rel: string, info: { type: string }) => info.type === 'dir' || match(rel) === i;
    planned.push({ name: `slice-${i + 1}`, history: `Application Slice: ${i + 1}`, kind: 'slice', spec: { directories: [{ source: input.appDir, target: appMount, filter }] } });
  });
  const appFilter = (rel: string) => match(rel) === undefined;
  planned.push({ name: 'app', history: 'Application Layer', kind: 'app', spec: { directories: [{ source: input.appDir, target: appMount, ...(build.slices.length ? { filter: appFilter } : {}) }] } });
  const shell = build.processes.length > 0 && (input.runImageHasShell ?? shellAsBefore(analyzed) ?? (await runImageHasShell(run.image, input.runImageCacheDir)));
  const config = launchConfig({
    baseEnv: run.image.config.config?.Env ?? [],
    layers: build.buildpacks.map((bp) => ({ buildpackId: bp.id, layers: envByBp.get(bp.id) ?? [] })),
    processes: build.processes,
    ...(defaultType ? { defaultType } : {}),
    appMount,
    layersMount,
    scripts: shell,
  });
  if (config.scriptEntries.length > 0) {
    planned.push({ name: 'process-types', history: 'Buildpacks Process Types', kind: 'process-types', spec: { entries: config.scriptEntries } });
  }
  signal?.throwIfAborted();
  // The cache-only layers are packed alongside the image's (they do not depend on it), from now on, while the
  // sealed layers are looked up (hashing a kept blob); the cache is written after the commit. A failure there
  // is handled by saveCache (packed again, or a warning).
  const cachePacking = input.cache ? packCacheOnly(input, layersMount, uid, gid, built, true) : undefined;
  cachePacking?.catch(() => undefined);
  try {
    await Promise.all(planned.map(async (p) => {
      if (p.kind !== 'launch' || !p.spec || !p.owner) return;
      const sealed = await recallSealed(input, p.owner.layer.dir, posix.join(layersMount, escapeBuildpackId(p.owner.bp.id), p.owner.layer.name), uid, gid);
      if (sealed?.layer) {
        built.push(sealed.layer);
        p.reuse = sealed.layer;
        p.recalled = true;
        delete p.spec;
        if (input.cache?.keepTree && p.owner.layer.types.cache) p.packedState = sealed.sealed.state;
      } else if (sealed) {
        p.sealed = sealed.sealed;
      }
    }));
    const toBuild = planned.filter((p) => p.spec);
    return { ...(await exportWith(input, planned, toBuild, lifecycleBps, envByBp, config, built, cachePacking)), sbomFiles };
  } finally {
    // Nothing may still write into `built` once the caller disposes it.
    await cachePacking?.catch(() => undefined);
  }
}

async function exportWith(
  input: ExportInput, planned: Planned[], toBuild: Planned[], lifecycleBps: BuildpackLayersMetadata[], envByBp: Map<string, LayerEnvSource[]>,
  config: ReturnType<typeof launchConfig>, built: FileLayer[], cachePacking: Promise<CacheOnlyLayers> | undefined,
): Promise<Omit<ExportResult, 'sbomFiles'>> {
  const { build, analyzed, signal } = input;
  const layersMount = input.layersMount ?? DEFAULT_LAYERS_MOUNT;
  const uid = input.uid ?? DEFAULT_CONTENT_ID;
  const gid = input.gid ?? DEFAULT_CONTENT_ID;
  const run = analyzed.runImage;
  const defaultType = input.defaultProcess ?? build.defaultType;
  if (input.cache?.keepTree) {
    for (const p of toBuild) if (p.kind === 'launch' && p.owner?.layer.types.cache) p.packedState = p.sealed?.state ?? (await treeState(p.owner.layer.dir));
  }
  const layers = await createLayers(toBuild.map((p) => p.spec!), { uid, gid, parentUid: uid, parentGid: gid, ...(input.tempDir ? { tempDir: input.tempDir } : {}), ...(input.blobCacheDir ? { blobCache: { dir: input.blobCacheDir } } : {}) });
  built.push(...layers);
  toBuild.forEach((p, i) => (p.reuse = layers[i]));
  for (const p of toBuild) if (p.sealed) await rememberSealed(input, p.owner!.layer.dir, p.sealed, p.reuse as FileLayer);
  signal?.throwIfAborted();

  const byKind = (kind: Planned['kind']) => planned.filter((p) => p.kind === kind).map((p) => p.reuse!);
  for (const p of planned.filter((x) => x.kind === 'launch')) {
    lifecycleBps.find((b) => b.key === p.owner!.bp.id)!.layers[p.owner!.layer.name] = {
      sha: p.reuse!.diffId, data: p.owner!.layer.metadata, build: p.owner!.layer.types.build, launch: true, cache: p.owner!.layer.types.cache,
    };
  }
  const sbom = byKind('sbom')[0];
  const scripts = byKind('process-types')[0];
  const runImageMeta = { topLayer: run.topLayer, reference: run.reference, image: run.name, ...(run.mirrors.length ? { mirrors: run.mirrors } : {}) };
  const labels: Record<string, string> = {
    [LIFECYCLE_METADATA_LABEL]: serializeLifecycleMetadata({
      app: [...byKind('slice'), ...byKind('app')].map((l) => ({ sha: l.diffId })),
      ...(sbom ? { sbom: { sha: sbom.diffId } } : {}),
      buildpacks: lifecycleBps,
      config: { sha: '' },
      launcher: { sha: '' },
      processTypes: { sha: scripts?.diffId ?? '' },
      runImage: runImageMeta,
      stack: { runImage: { image: run.name, ...(run.mirrors.length ? { mirrors: run.mirrors } : {}) } },
    }),
    [BUILD_METADATA_LABEL]: serializeBuildMetadata({
      buildpacks: build.buildpacks.map((b) => ({ id: b.id, version: b.version, ...(b.homepage ? { homepage: b.homepage } : {}) })),
      launcher: { version: '', source: { git: { repository: '', commit: '' } } },
      processes: build.processes.map((p) => ({
        type: p.type, command: p.command, args: p.args, direct: true, buildpackID: p.buildpackId,
        ...(p.type === defaultType ? { default: true } : {}),
        ...(p.workingDir ? { workingDir: p.workingDir } : {}),
        ...(p.execEnv ? { execEnv: p.execEnv } : {}),
      })),
      ...(build.defaultType ? { defaultProcessType: build.defaultType } : {}),
    }),
    [PROJECT_METADATA_LABEL]: serializeProjectMetadata(input.project ?? {}),
    [REBASABLE_LABEL]: 'true',
    [LAYER_ENV_LABEL]: serializeLayerEnv(envByBp),
  };
  for (const l of build.labels) labels[l.key] = l.value;

  const created = input.created ?? NORMALIZED_TIME;
  const additions: Addendum[] = planned.map((p) => ({ layer: p.reuse!, history: { created, created_by: p.history } }));
  let image = appendLayers(withCreated(run.image, created), ...additions);
  image = withConfig(image, {
    env: config.env,
    entrypoint: config.entrypoint,
    cmd: config.cmd,
    workingDir: config.workingDir,
    user: `${uid}:${gid}`,
    labels,
  });
  signal?.throwIfAborted();
  const written = await writeImage(input.sink, image, { tag: true });
  signal?.throwIfAborted();
  await input.sink.commit();

  const base = run.image.layers.length;
  const result: Omit<ExportResult, 'sbomFiles'> = {
    image,
    location: input.sink.location,
    digest: image.descriptor.digest,
    manifestSize: image.descriptor.size,
    layers: planned.map((p, i) => ({
      name: p.name, diffId: p.reuse!.diffId, digest: p.reuse!.digest, size: p.reuse!.size, reused: written.layers[base + i] !== 'uploaded',
      ...(p.recalled ? { recalled: true as const } : {}),
    })),
    uploaded: written.uploaded,
    report: serializeReport({ image: { tags: input.tags ?? [], digest: image.descriptor.digest, manifestSize: image.descriptor.size } }),
  };
  if (input.cache && cachePacking) {
    const saved = await saveCache(input, planned, layersMount, uid, gid, built, cachePacking);
    if (saved) result.cache = saved;
  }
  return result;
}

async function readSbomFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new LadingError('EXPORT', `${file}: cannot read the buildpack SBOM file: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Whether the run image has a shell, as the export of the previous image found it when that image is on the
 * very same run image (digest reference) and had processes: it wrote process-type scripts exactly when the
 * run image had a shell. Undefined when that cannot be told (then the run image's layers are read).
 */
function shellAsBefore(analyzed: Analyzed): boolean | undefined {
  const previous = analyzed.previousImage;
  if (!previous || previous.metadata.runImage.reference !== analyzed.runImage.reference) return undefined;
  if (previous.metadata.processTypes.sha) return true;
  try {
    const label = previous.image.config.config?.Labels?.[BUILD_METADATA_LABEL];
    return label !== undefined && parseBuildMetadata(label).processes.length > 0 ? false : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The previous image's layer for a launch+cache layer directory that the restore filled from the cache and the
 * build left as it was (same tree state, same image path and owners): the cache entry and the previous image's
 * layer have the same diffID (the restore rule), so that layer is this directory's tar without packing it.
 */
async function keptFromPrevious(input: ExportInput, dir: string, imagePath: string, uid: number, gid: number): Promise<{ layer: Layer; state: string } | undefined> {
  const previous = input.analyzed.previousImage?.image;
  if (!input.cache || !previous || previous.config.config?.User !== `${uid}:${gid}`) return undefined;
  const tree = await unchangedRestoredTree(input.cache, dir, imagePath);
  const layer = tree ? previous.layerByDiffId(tree.diffId) : undefined;
  return layer && tree ? { layer, state: tree.state } : undefined;
}

/**
 * A layer directory its buildpack sealed (content marker) and left as sealed: `layer` is the earlier build's
 * layer of the same content from the blob cache when the memo and the cache have it; else only `sealed`, to
 * remember the diffID once packed. Undefined without a memo dir or a valid seal.
 */
async function recallSealed(input: ExportInput, dir: string, imagePath: string, uid: number, gid: number): Promise<{ sealed: SealedLayer; layer?: FileLayer } | undefined> {
  if (!input.layerDigestsDir) return undefined;
  const sealed = await sealedLayer(dir, { imagePath, uid, gid });
  if (!sealed) return undefined;
  const known = input.blobCacheDir ? await recallDigest(input.layerDigestsDir, sealed.memoKey) : undefined;
  const layer = known ? await keptLayer(input.blobCacheDir!, known.diffId, known.size) : undefined;
  return layer ? { sealed, layer } : { sealed };
}

/** Remembers the diffID of a sealed directory just packed, when it is still as sealed (so the tar read it so). */
async function rememberSealed(input: ExportInput, dir: string, sealed: SealedLayer, layer: FileLayer): Promise<void> {
  if (input.layerDigestsDir && (await treeState(dir)) === sealed.state) {
    await rememberDigest(input.layerDigestsDir, sealed.memoKey, { diffId: layer.diffId, size: layer.uncompressedSize });
  }
}

/**
 * Saves `cache=true` layers; launch+cache layers use the image's tar, so their diffIDs match (restore rule).
 * Cache-only layers the build left as the restore unpacked them keep their cache entry by diffID (no packing);
 * should the cache no longer hold such an entry (a concurrent writer dropped it), everything is packed again.
 */
async function saveCache(
  input: ExportInput, planned: readonly Planned[], layersMount: string, uid: number, gid: number, built: FileLayer[], prepacked: Promise<CacheOnlyLayers>,
): Promise<CacheWriteResult | undefined> {
  try {
    return await writeCache(input, planned, layersMount, uid, gid, built, true, await prepacked);
  } catch (err) {
    if (input.signal?.aborted) throw err;
    try {
      return await writeCache(input, planned, layersMount, uid, gid, built, false);
    } catch (again) {
      if (input.signal?.aborted) throw again;
      input.onWarning?.(`${input.cache!.location}: the cache was not saved: ${(again as Error).message}`);
      return undefined;
    }
  }
}

/** Cache-only layers: those kept by diffID as restored, and those packed now (with their tree states before packing). */
interface CacheOnlyLayers {
  unchanged: Map<string, { diffId: Digest; state: string; dir: string }>;
  pending: { bp: ExportBuildpack; layer: ExportLayer }[];
  pendingStates: (string | undefined)[];
  extra: FileLayer[];
}

/**
 * Packs the cache-only layers the build changed (the others keep their entry). Needs nothing from the image
 * export, so the export starts it alongside its own layers and writes the cache after the image is committed.
 */
async function packCacheOnly(input: ExportInput, layersMount: string, uid: number, gid: number, built: FileLayer[], trustRestored: boolean): Promise<CacheOnlyLayers> {
  const cache = input.cache!;
  const unchanged = new Map<string, { diffId: Digest; state: string; dir: string }>();
  const pending: { bp: ExportBuildpack; layer: ExportLayer }[] = [];
  for (const bp of input.build.buildpacks) {
    for (const layer of bp.layers) {
      if (!layer.types.cache || layer.types.launch || !layer.hasDir) continue;
      const imagePath = posix.join(layersMount, escapeBuildpackId(bp.id), layer.name);
      const tree = trustRestored ? await unchangedRestoredTree(cache, layer.dir, imagePath) : undefined;
      if (tree) unchanged.set(`${bp.id}\0${layer.name}`, { ...tree, dir: layer.dir });
      else pending.push({ bp, layer });
    }
  }
  // Sealed directories seen before come from the blob cache; the others are packed.
  const imagePathOf = ({ bp, layer }: { bp: ExportBuildpack; layer: ExportLayer }) => posix.join(layersMount, escapeBuildpackId(bp.id), layer.name);
  const sealed = await Promise.all(pending.map((p) => recallSealed(input, p.layer.dir, imagePathOf(p), uid, gid)));
  // Tree states before packing: a directory still in that state afterwards is what its new cache entry holds.
  const pendingStates = cache.keepTree ? await Promise.all(pending.map(({ layer }, i) => sealed[i]?.sealed.state ?? treeState(layer.dir))) : [];
  const toPack = pending.flatMap((p, i) => (sealed[i]?.layer ? [] : [i]));
  const packed = await createLayers(
    toPack.map((i) => ({ directories: [{ source: pending[i]!.layer.dir, target: imagePathOf(pending[i]!) }] })),
    { uid, gid, parentUid: uid, parentGid: gid, compression: cache.compression ?? 'gzip', ...(input.tempDir ? { tempDir: input.tempDir } : {}), ...(input.blobCacheDir ? { blobCache: { dir: input.blobCacheDir } } : {}) },
  );
  built.push(...packed);
  const extra = pending.map((_, i) => sealed[i]?.layer);
  toPack.forEach((i, j) => (extra[i] = packed[j]));
  for (const l of extra) if (l && !built.includes(l)) built.push(l);
  for (const [j, i] of toPack.entries()) {
    const s = sealed[i]?.sealed;
    if (s) await rememberSealed(input, pending[i]!.layer.dir, s, packed[j]!);
  }
  return { unchanged, pending, pendingStates, extra: extra as FileLayer[] };
}

async function writeCache(
  input: ExportInput, planned: readonly Planned[], layersMount: string, uid: number, gid: number, built: FileLayer[], trustRestored: boolean, prepacked?: CacheOnlyLayers,
): Promise<CacheWriteResult> {
  const cache = input.cache!;
  const { unchanged, pending, pendingStates, extra } = prepacked ?? (await packCacheOnly(input, layersMount, uid, gid, built, trustRestored));
  const fromImage = new Map<string, Layer>(planned.filter((p) => p.owner).map((p) => [`${p.owner!.bp.id}\0${p.owner!.layer.name}`, p.reuse!] as const));
  pending.forEach((p, i) => fromImage.set(`${p.bp.id}\0${p.layer.name}`, extra[i]!));
  const layers = new Map<Digest, Layer>();
  const buildpacks: BuildpackLayersMetadata[] = [];
  for (const bp of input.build.buildpacks) {
    const entry: BuildpackLayersMetadata = { key: bp.id, version: bp.version, layers: {} };
    for (const layer of bp.layers) {
      if (!layer.types.cache) continue;
      const key = `${bp.id}\0${layer.name}`;
      const l = fromImage.get(key);
      const sha = l?.diffId ?? unchanged.get(key)?.diffId;
      if (!sha) continue;
      if (l) layers.set(l.diffId, l);
      entry.layers[layer.name] = { sha, data: layer.metadata, build: layer.types.build, launch: layer.types.launch, cache: true };
    }
    if (Object.keys(entry.layers).length > 0) buildpacks.push(entry);
  }
  const result = await cache.write({ buildpacks }, layers, input.signal);
  // Directories the build left exactly as restored, and those packed now and unchanged since, become the
  // cache's unpacked copies for the next restore (the first rebuild after a cold build then unpacks nothing).
  if (cache.keepTree) {
    // A recalled layer was not read by this export (its state was measured once, at recall): nothing to re-check,
    // like a layer left as restored. The next restore checks the state again before it trusts the copy.
    const recalled = planned.filter((p) => p.packedState && p.reuse && p.recalled).map((p) => ({ diffId: p.reuse!.diffId, dir: p.owner!.layer.dir, state: p.packedState! }));
    const packed = [
      ...planned.filter((p) => p.packedState && p.reuse && !p.recalled).map((p) => ({ diffId: p.reuse!.diffId, dir: p.owner!.layer.dir, state: p.packedState! })),
      ...pending.flatMap(({ layer }, i) => (pendingStates[i] ? [{ diffId: extra[i]!.diffId, dir: layer.dir, state: pendingStates[i]! }] : [])),
    ];
    const stillPacked = [];
    for (const t of packed) if ((await treeState(t.dir)) === t.state) stillPacked.push(t);
    const trees = [
      ...planned.filter((p) => p.keptState).map((p) => ({ diffId: p.reuse!.diffId, dir: p.owner!.layer.dir, state: p.keptState! })),
      ...unchanged.values(),
      ...recalled,
      ...stillPacked,
    ];
    for (const { diffId, dir, state } of trees) {
      await cache.keepTree(diffId, dir, state).catch((err: Error) => input.onWarning?.(`${cache.location}: not keeping ${dir} unpacked: ${err.message}`));
    }
  }
  return result;
}
