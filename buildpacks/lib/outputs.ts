import { join } from 'node:path';
import { PROCESS_TYPE_RE } from './env.js';
import { BuildpackError } from './errors.js';
import type { BuildpackPlan } from './plan.js';
import { isTable, readTomlFile, writeTomlFile, type TomlTable } from './toml-file.js';

/** A `launch.toml [[processes]]` entry. `command` is an array: executable then fixed arguments. */
export interface Process {
  type: string;
  command: string[];
  /** Default arguments the user may override. */
  args?: string[];
  default?: boolean;
  /** Defaults to the app directory. */
  workingDir?: string;
  /** Execution environments this process applies to; all when absent. */
  execEnv?: string[];
}

export interface Label {
  key: string;
  value: string;
}

export interface Slice {
  /** Globs relative to (or absolute within) the app directory. */
  paths: string[];
}

/** What a build function returns besides its layers: the contents of launch.toml, build.toml and store.toml. */
export interface BuildResult {
  processes?: Process[];
  labels?: Label[];
  slices?: Slice[];
  /** Buildpack Plan entries this buildpack did not satisfy, passed to the next provider (build.toml [[unmet]]). */
  unmet?: string[];
  /** Persisted to the next build as store.toml [metadata]. */
  store?: TomlTable;
}

/** The `launch.toml` table for processes/labels/slices, validated per buildpack.md "launch.toml"; undefined when empty. */
export function launchTable(r: BuildResult): TomlTable | undefined {
  const t: TomlTable = {};
  const labels = r.labels ?? [];
  const keys = new Set<string>();
  for (const l of labels) {
    if (!l.key) throw new BuildpackError('INVALID_OUTPUT', 'launch.toml: a label has an empty key');
    if (keys.has(l.key)) throw new BuildpackError('INVALID_OUTPUT', `launch.toml: label "${l.key}" is given twice`);
    keys.add(l.key);
  }
  if (labels.length) t['labels'] = labels.map((l) => ({ key: l.key, value: l.value }));
  const processes = r.processes ?? [];
  const types = new Set<string>();
  for (const p of processes) {
    if (!PROCESS_TYPE_RE.test(p.type)) throw new BuildpackError('INVALID_OUTPUT', `launch.toml: process type "${p.type}" must match ${PROCESS_TYPE_RE}`);
    if (types.has(p.type)) throw new BuildpackError('INVALID_OUTPUT', `launch.toml: process type "${p.type}" is given twice`);
    types.add(p.type);
    if (!Array.isArray(p.command) || p.command.length === 0 || p.command.some((c) => typeof c !== 'string') || p.command[0] === '') {
      throw new BuildpackError('INVALID_OUTPUT', `launch.toml: process "${p.type}" needs a command array whose first element is the executable`);
    }
  }
  const defaults = processes.filter((p) => p.default).map((p) => p.type);
  if (defaults.length > 1) throw new BuildpackError('INVALID_OUTPUT', `launch.toml: only one process may be the default (${defaults.join(', ')})`);
  if (processes.length) {
    t['processes'] = processes.map((p) => {
      const e: TomlTable = { type: p.type, command: p.command, args: p.args ?? [], default: p.default ?? false };
      if (p.workingDir) e['working-dir'] = p.workingDir;
      if (p.execEnv?.length) e['exec-env'] = p.execEnv;
      return e;
    });
  }
  const slices = r.slices ?? [];
  if (slices.length) t['slices'] = slices.map((s) => ({ paths: s.paths }));
  return Object.keys(t).length ? t : undefined;
}

/** The `build.toml` table for unmet entries; each name must be in the Buildpack Plan. */
export function buildTable(r: BuildResult, plan: BuildpackPlan): TomlTable | undefined {
  const unmet = [...new Set(r.unmet ?? [])];
  for (const name of unmet) {
    if (!plan.has(name)) throw new BuildpackError('INVALID_OUTPUT', `build.toml: unmet entry "${name}" is not in the Buildpack Plan`);
  }
  return unmet.length ? { unmet: unmet.map((name) => ({ name })) } : undefined;
}

/** Writes launch.toml, build.toml and store.toml for a build result. */
export async function writeBuildResult(layersDir: string, r: BuildResult, plan: BuildpackPlan): Promise<void> {
  const launch = launchTable(r);
  const build = buildTable(r, plan);
  if (launch) await writeTomlFile(join(layersDir, 'launch.toml'), launch);
  if (build) await writeTomlFile(join(layersDir, 'build.toml'), build);
  if (r.store) await writeTomlFile(join(layersDir, 'store.toml'), { metadata: r.store });
}

/** `[metadata]` of a restored `store.toml`, or an empty table. */
export async function readStore(layersDir: string): Promise<TomlTable> {
  const doc = await readTomlFile(join(layersDir, 'store.toml'));
  return doc && isTable(doc['metadata']) ? doc['metadata'] : {};
}
