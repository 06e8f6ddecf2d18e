import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LadingError } from '../../registry/oci/index.js';
import type { WarningSink } from './layer-metadata.js';

/** An environment as a plain map; `undefined` never appears as a value. */
export type Env = Record<string, string>;

/** The modification behaviour an env file's suffix selects (buildpack.md "Environment Variable Modification Rules"). */
export type EnvAction = 'override' | 'default' | 'append' | 'prepend' | 'delim';

const ACTIONS: ReadonlySet<string> = new Set(['override', 'default', 'append', 'prepend', 'delim']);

export interface EnvFile {
  /** The variable: the file name up to the first '.'. */
  name: string;
  action: EnvAction;
  /** The file contents, verbatim (never shell-evaluated, never trimmed). */
  value: string;
  /** Where it came from, for messages. */
  file: string;
}

/**
 * Splits an env file name into variable and action. No suffix means `defaultAction` (`override` for buildpack
 * layers, `default` for the operator's build-config env). Returns undefined for an unknown suffix.
 */
export function envFileAction(fileName: string, defaultAction: EnvAction): { name: string; action: EnvAction } | undefined {
  const dot = fileName.indexOf('.');
  if (dot < 0) return { name: fileName, action: defaultAction };
  const suffix = fileName.slice(dot + 1);
  if (!ACTIONS.has(suffix)) return undefined;
  return { name: fileName.slice(0, dot), action: suffix as EnvAction };
}

/**
 * Reads the env files of one directory (`env/`, `env.build/`, `env.launch/`, `env.launch/<process>/` or the
 * build-config `env/`), sorted by file name; a missing directory has none. Subdirectories are not files of
 * this directory; names with an unknown suffix are reported and skipped.
 */
export async function readEnvDir(dir: string, defaultAction: EnvAction, onWarning?: WarningSink): Promise<EnvFile[]> {
  const entries = await listEntries(dir);
  const out: EnvFile[] = [];
  for (const e of entries.filter((x) => !x.isDirectory()).sort((a, b) => compare(a.name, b.name))) {
    const parsed = envFileAction(e.name, defaultAction);
    const file = join(dir, e.name);
    if (!parsed || parsed.name === '') {
      onWarning?.(`${file}: ignored; env file names are NAME or NAME.{override,default,append,prepend,delim}`);
      continue;
    }
    out.push({ ...parsed, value: await readValue(file), file });
  }
  return out;
}

/** The process-specific env dirs under `env.launch/`: process type → directory. */
export async function listProcessEnvDirs(envLaunchDir: string): Promise<string[]> {
  return (await listEntries(envLaunchDir)).filter((e) => e.isDirectory()).map((e) => e.name).sort(compare);
}

/**
 * Applies the env files of ONE layer (already in the spec's order: `env/`, then `env.build/` or `env.launch/`,
 * then `env.launch/<process>/`) to `env`, returning a new env. A `.delim` file anywhere in the layer sets the
 * delimiter for that variable's append/prepend within this layer (a later dir's delim wins); without one,
 * values are concatenated directly. Cross-layer ordering comes from calling this layer by layer.
 */
export function applyEnvFiles(env: Readonly<Env>, files: readonly EnvFile[]): Env {
  const out: Env = { ...env };
  const delims = new Map<string, string>();
  for (const f of files) if (f.action === 'delim') delims.set(f.name, f.value);
  for (const f of files) {
    const current = out[f.name];
    const delim = delims.get(f.name) ?? '';
    switch (f.action) {
      case 'override':
        out[f.name] = f.value;
        break;
      case 'default':
        if (current === undefined || current === '') out[f.name] = f.value;
        break;
      case 'append':
        out[f.name] = current === undefined || current === '' ? f.value : current + delim + f.value;
        break;
      case 'prepend':
        out[f.name] = current === undefined || current === '' ? f.value : f.value + delim + current;
        break;
      case 'delim':
        break;
    }
  }
  return out;
}

/**
 * Reads a platform `env/` directory (platform.md "User-Provided Variables"): each file is one variable,
 * the whole file name is its name and the contents its value.
 */
export async function readPlatformEnvDir(dir: string): Promise<Env> {
  const entries = await listEntries(dir);
  const env: Env = {};
  for (const e of entries.filter((x) => !x.isDirectory()).sort((a, b) => compare(a.name, b.name))) {
    env[e.name] = await readValue(join(dir, e.name));
  }
  return env;
}

/** Directory entries; a missing directory (or a file in its place) has none. */
async function listEntries(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new LadingError('IO', `${dir}: cannot list env files: ${(err as Error).message}`, { cause: err });
  }
}

async function readValue(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new LadingError('IO', `${file}: cannot read env file: ${(err as Error).message}`, { cause: err });
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
