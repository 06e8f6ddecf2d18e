import { isAbsolute, posix } from 'node:path';
import { parseToml, tomlFields, type TomlFields, type TomlTable } from './toml-file.js';
import type { WarningSink } from './layer-metadata.js';

/** A process from launch.toml (buildpack.md "launch.toml"). */
export interface Process {
  type: string;
  command: string[];
  args: string[];
  default: boolean;
  workingDir?: string;
  execEnv?: string[];
}

export interface Label {
  key: string;
  value: string;
}

export interface Slice {
  paths: string[];
}

export interface LaunchToml {
  labels: Label[];
  processes: Process[];
  slices: Slice[];
}

export interface BuildToml {
  unmet: string[];
}

/** Process types: letters, numbers, '.', '_' and '-'. */
export const PROCESS_TYPE_RE = /^[A-Za-z0-9._-]+$/;

export interface LaunchTomlOptions {
  /** The app directory as buildpacks see it (default `/workspace`), for validating absolute slice paths. */
  appDir?: string;
  onWarning?: WarningSink;
}

/** Parses and validates a buildpack's launch.toml. Contract violations throw BUILD naming the file. */
export function parseLaunchToml(text: string, file: string, opts: LaunchTomlOptions = {}): LaunchToml {
  const root = tomlFields(parseToml(text, file, 'BUILD'), file, 'BUILD');
  warnLegacyBom(root, opts.onWarning);
  const labels = root.tables('labels').map((l) => ({ key: l.string('key'), value: l.optionalString('value') ?? '' }));
  const seenLabels = new Set<string>();
  for (const [i, l] of labels.entries()) {
    if (seenLabels.has(l.key)) root.fail(`labels[${i}]: duplicate label key "${l.key}"`);
    seenLabels.add(l.key);
  }
  const processes = root.tables('processes').map(parseProcess);
  const seenTypes = new Set<string>();
  let defaultType: string | undefined;
  for (const [i, p] of processes.entries()) {
    if (seenTypes.has(p.type)) root.fail(`processes[${i}]: duplicate process type "${p.type}"`);
    seenTypes.add(p.type);
    if (p.default) {
      if (defaultType !== undefined) root.fail(`processes[${i}]: only one process may be default ("${defaultType}" and "${p.type}")`);
      defaultType = p.type;
    }
  }
  const appDir = opts.appDir ?? '/workspace';
  const slices = root.tables('slices').map((s) => {
    const paths = s.stringArray('paths');
    for (const p of paths) {
      const problem = slicePathProblem(p, appDir);
      if (problem) s.fail(`${s.key('paths')}: "${p}" ${problem}`);
    }
    return { paths };
  });
  return { labels, processes, slices };
}

function parseProcess(p: TomlFields): Process {
  const type = p.string('type');
  if (!PROCESS_TYPE_RE.test(type)) {
    p.fail(`${p.key('type')}: process type "${type}" may only contain letters, numbers, '.', '_' and '-'`);
  }
  if (typeof p.table['command'] === 'string') p.fail(`${p.key('command')} must be an array of strings (Buildpack API 0.9+)`);
  const command = p.stringArray('command');
  if (command.length === 0 || command[0] === '') p.fail(`${p.key('command')} must name an executable`);
  const out: Process = { type, command, args: p.stringArray('args'), default: p.boolean('default') };
  const workingDir = p.optionalString('working-dir');
  if (workingDir !== undefined && workingDir !== '') out.workingDir = workingDir;
  const execEnv = p.optionalStringArray('exec-env');
  if (execEnv) out.execEnv = execEnv;
  return out;
}

/** A slice path must stay inside the app dir: relative without climbing out, or absolute under it. */
function slicePathProblem(path: string, appDir: string): string | undefined {
  if (path === '') return 'is empty';
  if (isAbsolute(path)) {
    const rel = posix.relative(appDir, posix.normalize(path));
    return rel.startsWith('..') || isAbsolute(rel) ? `is outside the app directory ${appDir}` : undefined;
  }
  const norm = posix.normalize(path);
  return norm === '..' || norm.startsWith('../') ? 'climbs out of the app directory' : undefined;
}

/** Parses build.toml: the names of the Buildpack Plan entries the buildpack did not meet. */
export function parseBuildToml(text: string, file: string, onWarning?: WarningSink): BuildToml {
  const root = tomlFields(parseToml(text, file, 'BUILD'), file, 'BUILD');
  warnLegacyBom(root, onWarning);
  return { unmet: root.tables('unmet').map((u) => u.string('name')) };
}

/** Checks every `[[unmet]] name` against the Buildpack Plan the buildpack received. */
export function checkUnmet(build: BuildToml, planNames: readonly string[], file: string): void {
  const known = new Set(planNames);
  for (const name of build.unmet) {
    if (!known.has(name)) tomlFields({}, file, 'BUILD').fail(`unmet entry "${name}" does not match any entry of the buildpack plan`);
  }
}

/** Parses store.toml: the `[metadata]` a buildpack persists to its next build. */
export function parseStoreToml(text: string, file: string): TomlTable {
  return tomlFields(parseToml(text, file, 'BUILD'), file, 'BUILD').freeTable('metadata');
}

function warnLegacyBom(root: TomlFields, onWarning?: WarningSink): void {
  if (root.has('bom')) onWarning?.(`${root.file}: [[bom]] is ignored since Buildpack API 0.7; write <layer>.sbom.<ext>.json files instead`);
}

export interface BuildpackProcess extends Process {
  buildpackId: string;
}

/**
 * Combines the processes of all buildpacks in build order (buildpack.md "launch.toml"): a later definition
 * of a type replaces an earlier one, and the default is the last `default = true`, unless a later
 * non-default definition of that type replaced it, which leaves no default.
 */
export function mergeProcesses(perBuildpack: readonly { buildpackId: string; processes: readonly Process[] }[]): {
  processes: BuildpackProcess[];
  defaultType?: string;
} {
  const byType = new Map<string, BuildpackProcess>();
  let defaultType: string | undefined;
  for (const { buildpackId, processes } of perBuildpack) {
    for (const p of processes) {
      byType.delete(p.type);
      byType.set(p.type, { ...p, buildpackId });
      if (p.default) defaultType = p.type;
      else if (defaultType === p.type) defaultType = undefined;
    }
  }
  const processes = [...byType.values()].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return defaultType === undefined ? { processes } : { processes, defaultType };
}
