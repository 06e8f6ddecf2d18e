import { join } from 'node:path';
import type { BuildpackDescriptor } from './descriptor.js';
import { processBuildpackLayers, type BuildpackLayer, type WarningSink } from './layer-metadata.js';
import { checkUnmet, parseBuildToml, parseLaunchToml, parseStoreToml, type LaunchToml } from './launch-toml.js';
import type { BuildpackPlanEntry } from './plan-files.js';
import { classifySbomFiles, listSbomFileNames, type SbomFile } from './sbom-files.js';
import { readTextFile, type TomlTable } from './toml-file.js';

/** Everything a buildpack's `/bin/build` left in `<layers>/<bp>`, validated. */
export interface BuildOutputs {
  /** Layers by name; all-false ones already renamed `.ignore`. */
  layers: BuildpackLayer[];
  launch: LaunchToml;
  /** Names from build.toml `[[unmet]]`, each matching an entry of the buildpack's plan. */
  unmet: string[];
  /** store.toml `[metadata]`, when the buildpack wrote one. */
  store?: TomlTable;
  sboms: SbomFile[];
}

export interface ReadBuildOutputsOptions {
  /** The app directory as buildpacks see it, for slice validation (default `/workspace`). */
  appDir?: string;
  onWarning?: WarningSink;
}

/**
 * Reads and checks the outputs of one buildpack after its build (buildpack.md "Phase #5: Build"): layer
 * metadata (renaming ignored layers, refusing reserved names), build.toml unmet entries against the plan it
 * received, launch.toml, store.toml, and SBOM files against its declared `sbom-formats`. Contract violations
 * throw BUILD naming the file.
 */
export async function readBuildOutputs(
  bpLayersDir: string,
  bp: BuildpackDescriptor,
  plan: readonly BuildpackPlanEntry[],
  opts: ReadBuildOutputsOptions = {},
): Promise<BuildOutputs> {
  const layers = await processBuildpackLayers(bpLayersDir, opts.onWarning);
  const buildFile = join(bpLayersDir, 'build.toml');
  const buildText = await readTextFile(buildFile, { optional: true });
  const unmet = buildText === undefined ? [] : parseBuildToml(buildText, buildFile, opts.onWarning).unmet;
  checkUnmet({ unmet }, plan.map((e) => e.name), buildFile);
  const launchFile = join(bpLayersDir, 'launch.toml');
  const launchText = await readTextFile(launchFile, { optional: true });
  const launch =
    launchText === undefined
      ? { labels: [], processes: [], slices: [] }
      : parseLaunchToml(launchText, launchFile, { ...(opts.appDir ? { appDir: opts.appDir } : {}), ...(opts.onWarning ? { onWarning: opts.onWarning } : {}) });
  const storeFile = join(bpLayersDir, 'store.toml');
  const storeText = await readTextFile(storeFile, { optional: true });
  const sboms = classifySbomFiles(bpLayersDir, await listSbomFileNames(bpLayersDir), new Map(layers.map((l) => [l.name, l.types])), bp.info);
  const out: BuildOutputs = { layers, launch, unmet, sboms };
  if (storeText !== undefined) out.store = parseStoreToml(storeText, storeFile);
  return out;
}
