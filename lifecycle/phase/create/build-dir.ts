import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LadingError } from '../../../registry/oci/index.js';
import type { Env } from '../../buildpack/index.js';

/** The private dirs of one build (platform.md "Inputs": `<app>`, `<layers>`, `<platform>`). */
export interface BuildDir {
  /** The temp dir holding everything below (removed by `dispose`). */
  root: string;
  appDir: string;
  layersDir: string;
  platformDir: string;
  /** Scratch space for plan files and spooled layers. */
  tmpDir: string;
  dispose(): Promise<void>;
}

export interface BuildDirOptions {
  /** Parent of the temp dir (default: the OS temp dir). */
  tempDir?: string;
  /** `--workspace` / `--layers-dir`: dirs outside the temp dir; they must be empty or absent. */
  workspace?: string;
  layersDir?: string;
}

/**
 * Makes a build's private dirs under a fresh temp dir, or uses the `--workspace`/`--layers-dir` paths (which then
 * appear in the image); `dispose` removes the temp dir and empties those paths (removing them if lading made them).
 */
export async function makeBuildDir(options: BuildDirOptions = {}): Promise<BuildDir> {
  const parent = options.tempDir ?? tmpdir();
  const created: string[] = [];
  for (const dir of [options.workspace, options.layersDir]) if (dir !== undefined && (await prepareEmpty(dir))) created.push(dir);
  let root: string;
  try {
    root = await mkdtemp(join(parent, 'lading-build-'));
  } catch (err) {
    throw new LadingError('IO', `${parent}: cannot create the build dir: ${(err as Error).message}`, { cause: err });
  }
  const dirs = {
    root,
    appDir: options.workspace ?? join(root, 'workspace'),
    layersDir: options.layersDir ?? join(root, 'layers'),
    platformDir: join(root, 'platform'),
    tmpDir: join(root, 'tmp'),
  };
  for (const d of [dirs.appDir, dirs.layersDir, join(dirs.platformDir, 'env'), dirs.tmpDir]) await mkdir(d, { recursive: true });
  return {
    ...dirs,
    async dispose() {
      await rm(root, { recursive: true, force: true });
      for (const dir of [options.workspace, options.layersDir]) {
        if (dir === undefined) continue;
        if (created.includes(dir)) await rm(dir, { recursive: true, force: true });
        else for (const name of await readdir(dir).catch(() => [])) await rm(join(dir, name), { recursive: true, force: true });
      }
    },
  };
}

/** True when the dir was created; an existing non-empty dir is a USAGE error (lading empties it afterwards). */
async function prepareEmpty(dir: string): Promise<boolean> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new LadingError('USAGE', `${dir}: not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true });
    return true;
  }
  if ((await readdir(dir)).length > 0) {
    throw new LadingError('USAGE', `${dir}: must be empty (lading builds there and removes what it wrote afterwards)`);
  }
  return false;
}

/** Writes user variables as `<platform>/env/<NAME>` files (platform.md "User-Provided Variables"). */
export async function writePlatformEnv(platformDir: string, env: Env): Promise<void> {
  for (const [name, value] of Object.entries(env)) {
    if (name === '' || name.includes('/') || name.includes('=') || name === '.' || name === '..') {
      throw new LadingError('USAGE', `environment variable name "${name}" is not valid`);
    }
    await writeFile(join(platformDir, 'env', name), value);
  }
}

/** Copies `<layers>/sbom/` (launch, build and cache SBOMs by buildpack) to `--sbom-output-dir`. */
export async function copySboms(layersDir: string, dest: string): Promise<void> {
  const src = join(layersDir, 'sbom');
  const exists = await stat(src).then(() => true, () => false);
  try {
    await mkdir(dest, { recursive: true });
    if (exists) await cp(src, dest, { recursive: true, force: true });
  } catch (err) {
    throw new LadingError('IO', `${dest}: cannot write the SBOM files: ${(err as Error).message}`, { cause: err });
  }
}
