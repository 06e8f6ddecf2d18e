import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LadingError, isLadingError, type ContentSink, type ContentSource } from '../../registry/oci/index.js';
import {
  filterHostEnv, type BuildpackSource, type DetectRun, type Env, type EnvFile, type GroupMember, type Order,
} from '../buildpack/index.js';
import type { LayerCache } from '../cache/index.js';
import { availableIsolation, NO_ISOLATION, type Isolation } from '../isolation/index.js';
import { platformFeatures, type PlatformFeatures, type ProjectDescriptor, type ProjectMetadata } from '../platform/index.js';
import { readPreviousImage, readRunImage, type AnalyzeInput, type Analyzed, type AnalyzedRunImage, type PreviousImage } from './analyzer.js';
import { writeBindings, type BindingVolume } from './bindings.js';
import { runBuilder, type BuilderResult } from './builder.js';
import { checkAppDir, checkSameTarget, copyAppDir, copySboms, keepLayerTrees, makeBuildDir, offerLayerTrees, requestedFlavor, withdrawLayerTrees, writePlatformEnv, type FlavorChoice, type LayerTreeNote } from './create/index.js';
import { runDetector, type DetectorResult } from './detector.js';
import { exportImage, type ExportResult } from './exporter.js';
import { restore, type RestoreResult } from './restorer.js';
import { RUN_IMAGE_PACKAGES_ENV, writeRunImagePackages } from './run-packages.js';

export { checkAppDir, inlineBuildpackDir, withPrePost } from './create/index.js';
export { defaultBuilderDir, ensureStack, requestedFlavor, runImageSet, stackImageRef, DEFAULT_STACK, RUN_IMAGE_LABEL, type EnsureStackEvent, type FlavorChoice } from './create/index.js';

export const CREATE_PHASES = ['analyze', 'detect', 'restore', 'build', 'export'] as const;
export type CreatePhase = (typeof CREATE_PHASES)[number];

export interface CreateInput {
  /** The app source on this machine; copied into the build's private workspace. */
  appDir: string;
  /** The app's project.toml, read by the caller: include/exclude and `[_]` metadata are applied here. */
  project?: ProjectDescriptor;
  catalog: BuildpackSource;
  order: Order;
  /** The run image; with `runImageChoice`, the stack's base image (its target is what detect and build see). */
  runImage: AnalyzeInput['runImage'];
  /**
   * A stack's run images to choose from after the build (no `--run-image`): the launch.toml label
   * `io.lading.run-image = "static"` exports onto `static`; otherwise onto `runImage`.
   */
  runImageChoice?: { static?: AnalyzeInput['runImage'] };
  /** The image this build replaces; a missing image is fine. */
  previousImage?: ContentSource;
  /** Where the app image goes; committed only when the whole image is written. */
  sink: ContentSink;
  /** Tag references for report.toml. */
  tags?: string[];
  cache?: LayerCache;
  /** `--clear-cache`: restore nothing from the cache (it is still written after the export). */
  clearCache?: boolean;
  /** User variables (`-e`, `--env-file`, project.toml build env), written to `<platform>/env/`. */
  platformEnv?: Env;
  /** Where the run images' package lists are kept between builds (LADING_RUN_IMAGE_PACKAGES); none: read each time. */
  runPackagesCacheDir?: string;
  /**
   * The machine's store of verified downloads, offered to buildpacks in DOWNLOAD_STORE_ENV (docs/lifecycle.md
   * "Download store"). Only for buildpacks that run on this machine (the caller leaves it out for a sandbox,
   * which sees the build image alone).
   */
  downloadStoreDir?: string;
  /** Where the exporter keeps compressed blobs of large layers between builds (LADING_HOME/cache/layer-blobs). */
  blobCacheDir?: string;
  /**
   * Where the exporter keeps diffIDs of layers their buildpacks sealed (content markers) between builds
   * (LADING_HOME/cache/layer-digests). Only for trusted buildpacks, like downloadStoreDir.
   */
  layerDigestsDir?: string;
  /**
   * The layer tree store (LADING_HOME/cache/layer-trees, create/layer-trees.ts): trees of sealed layers kept as
   * hard links and offered to the next build. Only for trusted buildpacks, like downloadStoreDir.
   */
  layerTreesDir?: string;
  /** Service bindings (`--volume DIR:/platform/bindings/NAME`), copied to `<platform>/bindings/`. */
  bindings?: readonly BindingVolume[];
  /** Operator variables (builder.toml `[[build.env]]`). */
  buildConfigEnv?: readonly EnvFile[];
  /** The host environment; buildpacks get it filtered (filterHostEnv: no registry credentials). */
  hostEnv: Readonly<Record<string, string | undefined>>;
  features?: PlatformFeatures;
  /** Where a passing namespace probe is remembered for later builds (ProbeIsolationOptions.memoDir; default: probe every time). */
  probeMemoDir?: string;
  /** Default: a private mount namespace (availableIsolation), or none when `workspace`/`layersDir` are given. */
  isolation?: Isolation;
  /** `--workspace` / `--layers-dir`: build there without a namespace; the paths appear in the image. */
  workspace?: string;
  layersDir?: string;
  /** Image `created` (creationTime()). */
  created?: string;
  /** `-D`: the default process type. */
  defaultProcess?: string;
  reportDir?: string;
  sbomDir?: string;
  /** Parent of the private build dir (default: the OS temp dir). */
  tempDir?: string;
  signal?: AbortSignal;
  onPhase?: (phase: CreatePhase, event: 'start' | 'end', seconds?: number) => void;
  onDetectRun?: (run: DetectRun) => void;
  onOutput?: (bp: GroupMember, chunk: string) => void;
  onWarning?: (message: string) => void;
  /** A buildpack's `/bin/build` has started (this process waits on it: a time to load what comes later). */
  onBuildSpawn?: () => void;
  /** The run image the export uses, once chosen (after build). */
  onRunImage?: (image: string, choice: FlavorChoice | undefined) => void;
}

export interface CreateResult {
  analyzed: Analyzed;
  detected: DetectorResult;
  restored: RestoreResult;
  built: BuilderResult;
  exported: ExportResult;
  /** Seconds per phase. */
  durations: Record<CreatePhase, number>;
  /** Layer trees offered to the buildpacks from the layer tree store, and trees kept in it (layerTreesDir). */
  layerTrees: { offered: LayerTreeNote[]; kept: LayerTreeNote[] };
}

/**
 * The creator (platform.md `creator`): analyze → detect → restore → build → export in one process, in a
 * private build dir (a copy of the app honouring include/exclude, `<layers>`, `<platform>/env/`) that is
 * removed at the end, also on failure. Cancelling through `signal` leaves nothing tagged (the sink commits
 * last, the cache is written after) and fails with INTERRUPTED.
 */
/** lading's extension of the platform contract: where buildpacks may keep verified downloads (see CreateInput.downloadStoreDir). */
export const DOWNLOAD_STORE_ENV = 'LADING_DOWNLOAD_CACHE';

export async function create(input: CreateInput): Promise<CreateResult> {
  await checkAppDir(input.appDir);
  if ((input.workspace === undefined) !== (input.layersDir === undefined)) {
    throw new LadingError('USAGE', '--workspace and --layers-dir go together: without a namespace both paths appear in the image');
  }
  const flagMode = input.workspace !== undefined;
  const isolation = input.isolation ?? (flagMode ? NO_ISOLATION : await availableIsolation({ ...(input.tempDir ? { tmpDir: input.tempDir } : {}), ...(input.probeMemoDir ? { memoDir: input.probeMemoDir } : {}) }));
  const features = input.features ?? platformFeatures();
  const dir = await makeBuildDir({
    ...(input.tempDir ? { tempDir: input.tempDir } : {}),
    ...(flagMode ? { workspace: input.workspace!, layersDir: input.layersDir! } : {}),
  });
  const durations = Object.fromEntries(CREATE_PHASES.map((p) => [p, 0])) as Record<CreatePhase, number>;
  const phase = async <T>(name: CreatePhase, fn: () => Promise<T>): Promise<T> => {
    cancelled(input.signal, name);
    input.onPhase?.(name, 'start');
    const started = performance.now();
    try {
      return await fn();
    } finally {
      durations[name] = Math.round(performance.now() - started) / 1000;
      input.onPhase?.(name, 'end', durations[name]);
    }
  };
  try {
    const filter = { ...(input.project?.include ? { include: input.project.include } : {}), ...(input.project?.exclude ? { exclude: input.project.exclude } : {}) };
    await copyAppDir(input.appDir, dir.appDir, filter);
    await writePlatformEnv(dir.platformDir, input.platformEnv ?? {});
    const env = filterHostEnv(input.hostEnv, { execPath: process.execPath, nodeOnPath: true });
    const seen = isolation.paths({ appDir: dir.appDir, layersDir: dir.layersDir, platformDir: dir.platformDir });
    const bindingRoot = await writeBindings(dir.platformDir, seen.platformDir ?? dir.platformDir, input.bindings ?? []);
    if (bindingRoot) env['SERVICE_BINDING_ROOT'] = bindingRoot;
    if (input.downloadStoreDir) env[DOWNLOAD_STORE_ENV] = input.downloadStoreDir;
    const warn = input.onWarning;

    // Analyze overlaps detect: the run image is read first (detect needs its target), the previous image while
    // /bin/detect runs; an analyze failure still wins over detect's outcome, as if the phases had run in turn.
    cancelled(input.signal, 'analyze');
    input.onPhase?.('analyze', 'start');
    const analyzeStarted = performance.now();
    const analyzeEnded = () => {
      durations.analyze = Math.round(performance.now() - analyzeStarted) / 1000;
      input.onPhase?.('analyze', 'end', durations.analyze);
    };
    let runImage: AnalyzedRunImage;
    try {
      runImage = await readRunImage(input.runImage);
      // the app lands on this image unless a buildpack asks for the static flavor (chooseRunImage)
      env[RUN_IMAGE_PACKAGES_ENV] = await writeRunImagePackages(dir.platformDir, seen.platformDir ?? dir.platformDir, { base: runImage.image }, input.runPackagesCacheDir);
    } catch (err) {
      analyzeEnded();
      throw err;
    }
    const previous = input.previousImage
      ? readPreviousImage(input.previousImage, warn).then((value) => ({ value }), (error: unknown) => ({ error }))
      : Promise.resolve({ value: undefined });
    const previousRead = async (): Promise<PreviousImage | undefined> => {
      const r = await previous;
      if ('error' in r) throw r.error;
      return r.value;
    };
    const target = runImage.target;
    const processInputs = {
      catalog: input.catalog,
      appDir: dir.appDir,
      platformDir: dir.platformDir,
      features,
      isolation,
      env,
      ...(input.buildConfigEnv ? { buildConfigEnv: input.buildConfigEnv } : {}),
      target,
      ...(input.signal ? { signal: input.signal } : {}),
    };
    // The cache's kept layer trees are checked while the first /bin/detect runs (this process waits anyway),
    // so the restore moves them in without walking them first.
    let checkTrees = input.cache?.checkTrees && !input.clearCache ? () => input.cache!.checkTrees!() : undefined;
    const onSpawn = () => {
      const check = checkTrees;
      checkTrees = undefined;
      if (check) setImmediate(check);
    };
    let detected: DetectorResult;
    let previousImage: PreviousImage | undefined;
    try {
      detected = await phase('detect', () =>
        runDetector({ ...processInputs, order: input.order, layersDir: dir.layersDir, onSpawn, ...(input.onDetectRun ? { onRun: input.onDetectRun } : {}) }),
      );
    } catch (err) {
      // cancelled: do not wait on the registry; otherwise an analyze failure is the one reported
      if (!input.signal?.aborted) await previousRead().finally(analyzeEnded);
      throw err;
    }
    try {
      previousImage = await previousRead();
    } finally {
      analyzeEnded();
    }
    let analyzed: Analyzed = previousImage ? { previousImage, runImage } : { runImage };
    const restored = await phase('restore', () =>
      restore({
        layersDir: dir.layersDir,
        group: detected.group,
        analyzed,
        ...(input.cache && !input.clearCache ? { cache: input.cache } : {}),
        layersMount: seen.layersDir ?? dir.layersDir,
        ...(warn ? { onWarning: warn } : {}),
        ...(input.signal ? { signal: input.signal } : {}),
      }),
    );
    const layerTrees: CreateResult['layerTrees'] = { offered: [], kept: [] };
    const built = await phase('build', async () => {
      const ids = detected.group.map((m) => m.id);
      if (input.layerTreesDir) layerTrees.offered = await offerLayerTrees(input.layerTreesDir, dir.layersDir, ids);
      const result = await runBuilder({
        ...processInputs,
        group: detected.group,
        plan: detected.plan,
        layersDir: dir.layersDir,
        tmpDir: dir.tmpDir,
        ...(input.onOutput ? { onOutput: input.onOutput } : {}),
        ...(input.onBuildSpawn ? { onSpawn: input.onBuildSpawn } : {}),
        ...(warn ? { onWarning: warn } : {}),
      });
      if (input.layerTreesDir) {
        await withdrawLayerTrees(dir.layersDir, ids);
        layerTrees.kept = await keepLayerTrees(input.layerTreesDir, dir.layersDir, ids);
      }
      return result;
    });
    const project = projectMetadata(input.project);
    const exported = await phase('export', async () => {
      analyzed = await chooseRunImage(input, analyzed, built);
      const user = stackUser(analyzed);
      return exportImage({
        build: built,
        analyzed,
        appDir: dir.appDir,
        sink: input.sink,
        tags: input.tags ?? [],
        appMount: built.appMount,
        layersMount: built.layersMount,
        ...user,
        ...(input.created ? { created: input.created } : {}),
        ...(input.defaultProcess ? { defaultProcess: input.defaultProcess } : {}),
        ...(project ? { project } : {}),
        ...(input.cache ? { cache: input.cache } : {}),
        tempDir: dir.tmpDir,
        ...(input.blobCacheDir ? { blobCacheDir: input.blobCacheDir } : {}),
        ...(input.layerDigestsDir ? { layerDigestsDir: input.layerDigestsDir } : {}),
        ...(input.runPackagesCacheDir ? { runImageCacheDir: input.runPackagesCacheDir } : {}),
        ...(warn ? { onWarning: warn } : {}),
        ...(input.signal ? { signal: input.signal } : {}),
      });
    });
    if (input.reportDir) await writeReport(input.reportDir, exported.report);
    if (input.sbomDir) await copySboms(dir.layersDir, input.sbomDir);
    return { analyzed, detected, restored, built, exported, durations, layerTrees };
  } catch (err) {
    await input.sink.abort().catch(() => undefined);
    if (input.signal?.aborted && !(isLadingError(err) && err.code === 'INTERRUPTED')) {
      throw new LadingError('INTERRUPTED', 'build cancelled; nothing was tagged', { cause: err });
    }
    throw err;
  } finally {
    await dir.dispose();
  }
}

/**
 * The run image, chosen after build from the buildpacks' `io.lading.run-image` label when the platform gave
 * a choice; a chosen static image is analyzed now and must have the target detect and build ran for.
 */
async function chooseRunImage(input: CreateInput, analyzed: Analyzed, built: BuilderResult): Promise<Analyzed> {
  if (!input.runImageChoice) {
    input.onRunImage?.(analyzed.runImage.name, undefined);
    return analyzed;
  }
  const choice = requestedFlavor(built.labels);
  const stat = input.runImageChoice.static;
  if (choice.flavor === 'static' && !stat) {
    input.onWarning?.(`${choice.reason}, but the builder names no static run image ([[run.images]] flavor = "static"); using ${analyzed.runImage.name}`);
  }
  if (choice.flavor !== 'static' || !stat) {
    input.onRunImage?.(analyzed.runImage.name, choice);
    return analyzed;
  }
  const runImage = await readRunImage(stat);
  checkSameTarget(analyzed.runImage.target, runImage);
  input.onRunImage?.(runImage.name, choice);
  return { ...analyzed, runImage };
}

function cancelled(signal: AbortSignal | undefined, phase: CreatePhase): void {
  if (signal?.aborted) throw new LadingError('INTERRUPTED', `build cancelled before ${phase}; nothing was tagged`);
}

/** The stack's user from the run image's CNB_USER_ID / CNB_GROUP_ID (design §4), else the exporter's default. */
function stackUser(analyzed: Analyzed): { uid?: number; gid?: number } {
  const env = analyzed.runImage.image.config.config?.Env ?? [];
  const get = (name: string) => {
    const v = env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const uid = get('CNB_USER_ID');
  const gid = get('CNB_GROUP_ID');
  return { ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}) };
}

/** `io.buildpacks.project.metadata` as pack writes it from project.toml: `{source: {type: "project", version, metadata}}`. */
export function projectMetadata(project: ProjectDescriptor | undefined): ProjectMetadata | undefined {
  if (!project || (!project.version && !project.sourceUrl)) return undefined;
  return {
    source: {
      type: 'project',
      version: project.version ? { declared: project.version } : {},
      metadata: project.sourceUrl ? { url: project.sourceUrl } : {},
    },
  };
}

async function writeReport(dir: string, report: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'report.toml'), report);
  } catch (err) {
    throw new LadingError('IO', `${dir}: cannot write report.toml: ${(err as Error).message}`, { cause: err });
  }
}
