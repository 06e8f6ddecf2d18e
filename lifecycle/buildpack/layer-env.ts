import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { applyEnvFiles, listProcessEnvDirs, readEnvDir, type Env, type EnvFile } from './env-files.js';
import type { WarningSink } from './layer-metadata.js';

/** The parts of a layer directory that shape an environment, read once so the env rules stay pure. */
export interface LayerEnvSource {
  name: string;
  /** The layer's path as processes see it (e.g. `/layers/<bp>/<layer>`), used in PATH-like values. */
  path: string;
  bin: boolean;
  lib: boolean;
  include: boolean;
  pkgconfig: boolean;
  /** `exec.d/` and `profile.d/` exist: lading does not run them (no launcher), so the exporter warns. */
  execD: boolean;
  profileD: boolean;
  env: EnvFile[];
  envBuild: EnvFile[];
  envLaunch: EnvFile[];
  /** `env.launch/<process>/` files by process type. */
  envLaunchProcess: Record<string, EnvFile[]>;
}

/** A buildpack's layers that contribute to an env (its build layers, or its launch layers), in any order. */
export interface BuildpackLayerEnv {
  buildpackId: string;
  layers: readonly LayerEnvSource[];
}

/** The OS path list separator; lading builds Linux images. */
export const PATH_LIST_SEPARATOR = ':';

/** Variables a layer's subdirectories prepend to (buildpack.md "Layer Paths"). */
const BUILD_PATHS: readonly [keyof LayerEnvSource & ('bin' | 'lib' | 'include' | 'pkgconfig'), string, string][] = [
  ['bin', 'bin', 'PATH'],
  ['lib', 'lib', 'LD_LIBRARY_PATH'],
  ['lib', 'lib', 'LIBRARY_PATH'],
  ['include', 'include', 'CPATH'],
  ['pkgconfig', 'pkgconfig', 'PKG_CONFIG_PATH'],
];
const LAUNCH_PATHS = BUILD_PATHS.filter(([, , v]) => v === 'PATH' || v === 'LD_LIBRARY_PATH');

/** POSIX path variables: user-provided values are prepended to them rather than replacing them. */
export const POSIX_PATH_VARS: ReadonlySet<string> = new Set(BUILD_PATHS.map(([, , v]) => v));

/**
 * Reads a layer directory's env-relevant parts. `path` is what to put into PATH-like variables (the path the
 * buildpack or the app sees, e.g. under `/layers`), `dir` where to read it on this machine.
 */
export async function readLayerEnv(dir: string, name: string, path = dir, onWarning?: WarningSink): Promise<LayerEnvSource> {
  const envLaunchDir = join(dir, 'env.launch');
  const envLaunchProcess: Record<string, EnvFile[]> = {};
  for (const proc of await listProcessEnvDirs(envLaunchDir)) {
    envLaunchProcess[proc] = await readEnvDir(join(envLaunchDir, proc), 'override', onWarning);
  }
  return {
    name,
    path,
    bin: await isDir(join(dir, 'bin')),
    lib: await isDir(join(dir, 'lib')),
    include: await isDir(join(dir, 'include')),
    pkgconfig: await isDir(join(dir, 'pkgconfig')),
    execD: await isDir(join(dir, 'exec.d')),
    profileD: await isDir(join(dir, 'profile.d')),
    env: await readEnvDir(join(dir, 'env'), 'override', onWarning),
    envBuild: await readEnvDir(join(dir, 'env.build'), 'override', onWarning),
    envLaunch: await readEnvDir(envLaunchDir, 'override', onWarning),
    envLaunchProcess,
  };
}

/**
 * The environment a buildpack's `/bin/build` sees from the build layers of the buildpacks before it
 * (buildpack.md "Provided by the Buildpacks", "Layer Paths"): for each earlier buildpack in group order, its
 * layers' `bin/`, `lib/`, `include/`, `pkgconfig/` are prepended to PATH, LD_LIBRARY_PATH + LIBRARY_PATH,
 * CPATH and PKG_CONFIG_PATH (so later buildpacks come first, and one buildpack's layers read in ascending
 * name order), then each layer's `env/` and `env.build/` files are applied in ascending layer order.
 */
export function buildEnvFor(base: Readonly<Env>, earlier: readonly BuildpackLayerEnv[]): Env {
  let env: Env = { ...base };
  for (const bp of earlier) {
    const layers = sortByName(bp.layers);
    env = prependLayerPaths(env, layers, BUILD_PATHS);
    for (const layer of layers) env = applyEnvFiles(env, [...layer.env, ...layer.envBuild]);
  }
  return env;
}

/**
 * The environment a process of the app image starts with (buildpack.md "Launch", platform.md "Launch
 * Environment"), computed at export time instead of by a launcher binary (design.md §7): the run image's env,
 * then for each buildpack in group order its launch layers' `bin/` → PATH and `lib/` → LD_LIBRARY_PATH, and
 * each layer's `env/`, `env.launch/` and, for `processType`, `env.launch/<processType>/` files.
 */
export function launchEnvFor(base: Readonly<Env>, launchLayers: readonly BuildpackLayerEnv[], processType?: string): Env {
  let env: Env = { ...base };
  for (const bp of launchLayers) {
    const layers = sortByName(bp.layers);
    env = prependLayerPaths(env, layers, LAUNCH_PATHS);
    for (const layer of layers) {
      const proc = processType === undefined ? [] : (layer.envLaunchProcess[processType] ?? []);
      env = applyEnvFiles(env, [...layer.env, ...layer.envLaunch, ...proc]);
    }
  }
  return env;
}

/** Prepends `value` to a path list variable, without a dangling separator when it was empty. */
export function prependPathList(env: Readonly<Env>, name: string, value: string): Env {
  const current = env[name];
  return { ...env, [name]: current === undefined || current === '' ? value : value + PATH_LIST_SEPARATOR + current };
}

function prependLayerPaths(env: Env, ascending: readonly LayerEnvSource[], table: typeof BUILD_PATHS): Env {
  let out = env;
  // Prepending one by one reverses the order, so walk the layers descending to end with them ascending.
  for (const layer of [...ascending].reverse()) {
    for (const [flag, sub, variable] of table) if (layer[flag]) out = prependPathList(out, variable, `${layer.path}/${sub}`);
  }
  return out;
}

function sortByName(layers: readonly LayerEnvSource[]): LayerEnvSource[] {
  return [...layers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
