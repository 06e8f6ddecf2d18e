import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { escapeBuildpackId } from '../buildpack/index.js';

/** Where the app image holds the app and the layers: the paths buildpacks must see (design.md §1). */
export const IMAGE_APP_DIR = '/workspace';
export const IMAGE_LAYERS_DIR = '/layers';
/** Stable paths for the platform dir and buildpack dirs, as a builder image has them (platform.md "Build Image"). */
export const IMAGE_PLATFORM_DIR = '/platform';
export const IMAGE_BUILDPACKS_DIR = '/cnb/buildpacks';

/**
 * Top-level names of `/` a namespaced process never sees from the host: they hold the build's own dirs
 * (or nothing), so a host that happens to have a `/workspace` or a builder's `/cnb` cannot leak into a build.
 */
export const REPLACED_ROOT_NAMES: ReadonlySet<string> = new Set(['workspace', 'layers', 'platform', 'cnb']);

/** The build's directories on this machine that one buildpack process works with. */
export interface BuildDirs {
  appDir: string;
  layersDir?: string;
  platformDir?: string;
  buildpack?: { dir: string; id: string; version: string };
}

/** The same directories as the process sees them. */
export interface ProcessPaths {
  appDir: string;
  layersDir?: string;
  platformDir?: string;
  buildpackDir?: string;
}

/** One bind mount: a host directory made visible at `target` inside the namespace. */
export interface Mount {
  source: string;
  target: string;
}

/** The image paths of a build's dirs: `/workspace`, `/layers`, `/platform`, `/cnb/buildpacks/<id>/<version>`. */
export function imagePaths(dirs: BuildDirs): ProcessPaths {
  const out: ProcessPaths = { appDir: IMAGE_APP_DIR };
  if (dirs.layersDir !== undefined) out.layersDir = IMAGE_LAYERS_DIR;
  if (dirs.platformDir !== undefined) out.platformDir = IMAGE_PLATFORM_DIR;
  if (dirs.buildpack) out.buildpackDir = buildpackImagePath(dirs.buildpack);
  return out;
}

/** The paths when there is no namespace: the host paths themselves. */
export function hostPaths(dirs: BuildDirs): ProcessPaths {
  const out: ProcessPaths = { appDir: dirs.appDir };
  if (dirs.layersDir !== undefined) out.layersDir = dirs.layersDir;
  if (dirs.platformDir !== undefined) out.platformDir = dirs.platformDir;
  if (dirs.buildpack) out.buildpackDir = dirs.buildpack.dir;
  return out;
}

export function buildpackImagePath(bp: { id: string; version: string }): string {
  return `${IMAGE_BUILDPACKS_DIR}/${escapeBuildpackId(bp.id)}/${bp.version}`;
}

/** The bind mounts that put a build's dirs at their image paths, parents before children. */
export function buildMounts(dirs: BuildDirs): Mount[] {
  const mounts: Mount[] = [{ source: dirs.appDir, target: IMAGE_APP_DIR }];
  if (dirs.layersDir !== undefined) mounts.push({ source: dirs.layersDir, target: IMAGE_LAYERS_DIR });
  if (dirs.platformDir !== undefined) mounts.push({ source: dirs.platformDir, target: IMAGE_PLATFORM_DIR });
  if (dirs.buildpack) mounts.push({ source: dirs.buildpack.dir, target: buildpackImagePath(dirs.buildpack) });
  return mounts;
}

/** A top-level entry of the host's `/`, re-created inside the namespace. */
export interface RootEntry {
  /** Absolute path, e.g. `/usr`. */
  path: string;
  kind: 'dir' | 'file' | 'link';
  /** The link's target, for `link`. */
  target?: string;
}

/**
 * Lists the top-level entries of `/` a namespace shows from the host: every directory, file and symlink
 * except `/proc` and `/dev` (mounted fresh or bound whole by the mechanism) and the replaced names.
 * Sockets, fifos and devices at the top level are left out.
 */
export function readHostRoot(root = '/'): RootEntry[] {
  const out: RootEntry[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (REPLACED_ROOT_NAMES.has(e.name) || e.name === 'proc' || e.name === 'dev') continue;
    const path = `/${e.name}`;
    if (e.isSymbolicLink()) {
      out.push({ path, kind: 'link', target: readlinkSync(join(root, e.name)) });
    } else if (e.isDirectory()) out.push({ path, kind: 'dir' });
    else if (e.isFile()) out.push({ path, kind: 'file' });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
