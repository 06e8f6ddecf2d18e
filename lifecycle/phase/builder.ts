import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'smol-toml';
import {
  buildInvocation,
  buildpackPlanFor,
  buildpackPlanToml,
  escapeBuildpackId,
  mergeProcesses,
  readBuildOutputs,
  readLayerEnv,
  readPlatformEnvDir,
  remainingPlan,
  sbomDestination,
  type BuildpackLayerEnv,
  type BuildpackProcess,
  type GroupMember,
  type Label,
  type LayerTypes,
  type PlanEntry,
  type Process,
  type SbomFile,
  type Slice,
  type TomlTable,
  type WarningSink,
} from '../buildpack/index.js';
import { runProcess, type Isolation } from '../isolation/index.js';
import { LadingError } from '../../registry/oci/index.js';
import { lifecycleEnv, type BuildpackProcessInputs } from './detector.js';
import type { BuildResult } from './exporter.js';

export interface BuilderInputs extends BuildpackProcessInputs {
  /** The detected group and plan (runDetector). */
  group: readonly GroupMember[];
  plan: readonly PlanEntry[];
  layersDir: string;
  /** Where each buildpack's plan file goes (default: the OS temp dir); must be visible to buildpacks. */
  tmpDir?: string;
  /** A buildpack's output as it runs. */
  onOutput?: (bp: GroupMember, chunk: string) => void;
  /** Each buildpack's `/bin/build` has started. */
  onSpawn?: () => void;
  onWarning?: WarningSink;
}

export interface BuiltLayer {
  name: string;
  /** Where it is on this machine (`.ignore`-renamed layers keep their original path here). */
  dir: string;
  /** Where buildpacks saw it, and where the app image holds it: `/layers/<bp>/<name>`. */
  path: string;
  types: LayerTypes;
  metadata: TomlTable;
  /** False: `launch = true` without a directory — reuse the previous image's layer. */
  hasDir: boolean;
}

/** An SBOM file with the buildpack that wrote it; `file.path` is its copy under `<layers>/sbom/<scope>/`. */
export interface BuiltSbom {
  buildpackId: string;
  file: SbomFile;
}

export interface BuiltBuildpack extends GroupMember {
  layers: BuiltLayer[];
  processes: Process[];
  labels: Label[];
  slices: Slice[];
  /** Names it listed in build.toml `[[unmet]]`. */
  unmet: string[];
  /** store.toml `[metadata]`. */
  store?: TomlTable;
}

/** The build phase's output: what the exporter reads (its BuildResult) plus what the CLI and reports need. */
export interface BuilderResult extends BuildResult {
  /** The app and layers dirs as buildpacks saw them: the image paths, or the host's without a namespace. */
  appMount: string;
  layersMount: string;
  buildpacks: BuiltBuildpack[];
  /** Processes merged over the group: a later buildpack's type replaces an earlier one's; `defaultType` resolved. */
  processes: BuildpackProcess[];
  /** Labels of every buildpack, a later key replacing an earlier one. */
  labels: Label[];
  slices: Slice[];
  /** Launch-scope SBOM files (the image's SBOM layer). */
  sboms: BuiltSbom[];
  /** Build- and cache-scope SBOM files (`--sbom-output-dir`, the cache). */
  buildSboms: BuiltSbom[];
  /** Plan entries no buildpack met (every provider left them `[[unmet]]`). */
  unmet: PlanEntry[];
  /** `<layers>/config/metadata.toml` as written. */
  metadataToml: string;
}

/** A buildpack's `/bin/build` exited non-zero (exit code 51); `output` holds the end of what it printed. */
export class BuildpackFailedError extends LadingError {
  constructor(
    readonly buildpack: { id: string; version: string },
    readonly exitCode: number,
    readonly output: string,
    message: string,
    cause?: unknown,
  ) {
    super('BUILDPACK_FAILED', message, cause === undefined ? {} : { cause });
    this.name = 'BuildpackFailedError';
  }
}

/**
 * The build phase (buildpack.md "Phase #3: Build", platform.md `builder`): for each buildpack of the group
 * in order, its Buildpack Plan (unmet entries passing on to later providers), its env (filtered host env,
 * CNB_* by its API, earlier buildpacks' build layers, platform and operator variables), `/bin/build` run in
 * the isolation with working dir = app dir and output streamed; then its layers processed and its
 * launch/build/store.toml and SBOM files read and checked. SBOM files are copied to `<layers>/sbom/…`;
 * `<layers>/config/metadata.toml` is written at the end.
 */
export async function runBuilder(inputs: BuilderInputs): Promise<BuilderResult> {
  const paths = inputs.isolation.paths({ appDir: inputs.appDir, layersDir: inputs.layersDir, platformDir: inputs.platformDir });
  const seenLayers = paths.layersDir ?? inputs.layersDir;
  const platformEnv = inputs.platformEnv ?? (await readPlatformEnvDir(join(inputs.platformDir, 'env')));
  const target = inputs.features.targets ? inputs.target : undefined;
  await io(`${inputs.layersDir}/sbom`, () => rm(join(inputs.layersDir, 'sbom'), { recursive: true, force: true }));
  let plan: PlanEntry[] = [...inputs.plan];
  const earlier: BuildpackLayerEnv[] = [];
  const built: BuiltBuildpack[] = [];
  const sboms: BuiltSbom[] = [];
  const buildSboms: BuiltSbom[] = [];
  for (const member of inputs.group) {
    const bp = inputs.catalog.findBuildpack(member.id, member.version);
    const esc = escapeBuildpackId(member.id);
    const bpLayers = join(inputs.layersDir, esc);
    const bpPlan = buildpackPlanFor(plan, member.id);
    const dirs = { appDir: inputs.appDir, layersDir: inputs.layersDir, platformDir: inputs.platformDir, buildpack: { dir: bp.dir, id: member.id, version: member.version } };
    const seen = inputs.isolation.paths(dirs);
    const planDir = await io(inputs.tmpDir ?? tmpdir(), () => mkdtemp(join(inputs.tmpDir ?? tmpdir(), `lading-${esc}-`)));
    try {
      const planPath = join(planDir, 'plan.toml');
      await io(planPath, async () => {
        await mkdir(bpLayers, { recursive: true });
        await writeFile(planPath, buildpackPlanToml(bpPlan));
      });
      const inv = buildInvocation(
        { ...bp, dir: seen.buildpackDir ?? bp.dir },
        {
          appDir: seen.appDir,
          platformDir: seen.platformDir ?? inputs.platformDir,
          layersDir: `${seenLayers}/${esc}`,
          planPath,
          base: { ...inputs.env, ...lifecycleEnv(bp, inputs.features, target, inputs.execEnv) },
          earlier,
          platformEnv,
          ...(inputs.buildConfigEnv ? { buildConfigEnv: inputs.buildConfigEnv } : {}),
        },
      );
      const run = await runProcess(inputs.isolation.wrap(inv, dirs), {
        ...(inputs.onOutput ? { onOutput: (chunk: string) => inputs.onOutput!(member, chunk) } : {}),
        ...(inputs.onSpawn ? { onSpawn: inputs.onSpawn } : {}),
        ...(inputs.signal ? { signal: inputs.signal } : {}),
        ...(inputs.timeoutMs ? { timeoutMs: inputs.timeoutMs } : {}),
      });
      if (run.error?.code === 'INTERRUPTED') throw run.error;
      if (run.code !== 0) {
        const last = run.tail.trim().split('\n').pop() ?? '';
        const why = run.error ? run.error.message : `${inv.file} exited with code ${run.code}`;
        throw new BuildpackFailedError(member, run.code, run.tail, `buildpack ${member.id}@${member.version} failed: ${why}` + (last ? ` (last output: ${last})` : ''), run.error);
      }
    } finally {
      await rm(planDir, { recursive: true, force: true });
    }
    const out = await readBuildOutputs(bpLayers, bp, bpPlan, { appDir: paths.appDir, ...(inputs.onWarning ? { onWarning: inputs.onWarning } : {}) });
    const layers = out.layers.map((l) => ({ name: l.name, dir: l.dir, path: `${seenLayers}/${esc}/${l.name}`, types: l.types, metadata: l.metadata, hasDir: l.hasDir }));
    for (const file of out.sboms) {
      const dest = join(inputs.layersDir, sbomDestination(file, member.id));
      await io(dest, async () => {
        await mkdir(dirname(dest), { recursive: true });
        await copyFile(file.path, dest);
      });
      (file.scope === 'launch' ? sboms : buildSboms).push({ buildpackId: member.id, file: { ...file, path: dest } });
    }
    const buildLayers = layers.filter((l) => l.types.build && l.hasDir);
    earlier.push({ buildpackId: member.id, layers: await Promise.all(buildLayers.map((l) => readLayerEnv(l.dir, l.name, l.path, inputs.onWarning))) });
    plan = remainingPlan(plan, bpPlan, out.unmet);
    built.push({ ...member, layers, processes: out.launch.processes, labels: out.launch.labels, slices: out.launch.slices, unmet: out.unmet, ...(out.store ? { store: out.store } : {}) });
  }
  const merged = mergeProcesses(built.map((b) => ({ buildpackId: b.id, processes: b.processes })));
  const result: Omit<BuilderResult, 'metadataToml'> = {
    appMount: paths.appDir,
    layersMount: seenLayers,
    buildpacks: built,
    processes: merged.processes,
    ...(merged.defaultType !== undefined ? { defaultType: merged.defaultType } : {}),
    labels: mergeLabels(built.flatMap((b) => b.labels)),
    slices: built.flatMap((b) => b.slices),
    sboms,
    buildSboms,
    // Every entry has a provider in the group, so what is left was left unmet by all its providers.
    unmet: plan,
  };
  const metadataToml = buildMetadataToml(result, inputs.group);
  const metadataFile = join(inputs.layersDir, 'config', 'metadata.toml');
  await io(metadataFile, async () => {
    await mkdir(dirname(metadataFile), { recursive: true });
    await writeFile(metadataFile, metadataToml);
  });
  return { ...result, metadataToml };
}

/**
 * `<layers>/config/metadata.toml` in the Go lifecycle's shape (read by the exporter and `pack inspect`):
 * `buildpack-default-process-type`, `[[buildpacks]]` (id, version, api, homepage), `[[processes]]` (type,
 * command array, args, direct = true, buildpack-id, working-dir, exec-env), `[[labels]]`, `[[slices]]`.
 */
export function buildMetadataToml(result: Pick<BuildResult, 'processes' | 'defaultType' | 'labels' | 'slices'>, group: readonly GroupMember[]): string {
  return stringify({
    ...(result.defaultType !== undefined ? { 'buildpack-default-process-type': result.defaultType } : {}),
    buildpacks: group.map((m) => ({ id: m.id, version: m.version, api: m.api, ...(m.homepage ? { homepage: m.homepage } : {}) })),
    processes: result.processes.map((p) => ({
      type: p.type,
      command: p.command,
      args: p.args,
      direct: true,
      'buildpack-id': p.buildpackId,
      ...(p.workingDir !== undefined ? { 'working-dir': p.workingDir } : {}),
      ...(p.execEnv !== undefined ? { 'exec-env': p.execEnv } : {}),
    })),
    labels: result.labels.map((l) => ({ key: l.key, value: l.value })),
    slices: result.slices.map((s) => ({ paths: s.paths })),
  });
}

function mergeLabels(labels: readonly Label[]): Label[] {
  const byKey = new Map<string, Label>();
  for (const l of labels) byKey.set(l.key, l);
  return [...byKey.values()];
}

async function io<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LadingError) throw err;
    throw new LadingError('BUILD', `${path}: ${(err as Error).message}`, { cause: err });
  }
}
