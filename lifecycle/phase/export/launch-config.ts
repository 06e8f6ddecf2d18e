import { launchEnvFor, type BuildpackLayerEnv, type BuildpackProcess, type Env } from '../../buildpack/index.js';
import type { FileEntry } from '../../../registry/layers/index.js';

/** Where process scripts go in the image (the launcher's `/cnb/process/<type>`, here a shell script). */
export const PROCESS_DIR = '/cnb/process';

export interface LaunchConfigInput {
  /** The run image's `Env` (`K=V` strings). */
  baseEnv: readonly string[];
  /** Launch layers per buildpack in group order, their paths as the image has them. */
  layers: readonly BuildpackLayerEnv[];
  processes: readonly BuildpackProcess[];
  defaultType?: string;
  appMount: string;
  layersMount: string;
  /** Write `/cnb/process/<type>` scripts (the run image has `/bin/sh`). */
  scripts: boolean;
}

export interface LaunchConfig {
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  workingDir: string;
  /** `/cnb/process/<type>` files, root-owned 0755; empty without a shell. */
  scriptEntries: FileEntry[];
}

/**
 * The container config that replaces the CNB launcher (design.md §7): the launch env of the default process
 * (or of the layers alone) on top of the run image's env, the default process as Entrypoint (its command)
 * plus Cmd (its args, which `docker run IMAGE ARGS` replaces, as Buildpack API ≥0.9 processes expect),
 * WorkingDir from the process or the app dir, and one script per process type applying that process's env.
 */
export function launchConfig(input: LaunchConfigInput): LaunchConfig {
  const base = envMap(input.baseEnv);
  base['CNB_APP_DIR'] = input.appMount;
  base['CNB_LAYERS_DIR'] = input.layersMount;
  if (input.scripts) base['PATH'] = base['PATH'] ? `${PROCESS_DIR}:${base['PATH']}` : PROCESS_DIR;
  const common = launchEnvFor(base, input.layers);
  const def = input.processes.find((p) => p.type === input.defaultType);
  const imageEnv = def ? launchEnvFor(base, input.layers, def.type) : common;
  const scriptEntries = input.scripts
    ? input.processes.map((p): FileEntry => ({
        type: 'file',
        path: `${PROCESS_DIR}/${p.type}`,
        content: processScript(p, imageEnv, launchEnvFor(base, input.layers, p.type), input.appMount),
        mode: 0o755,
        uid: 0,
        gid: 0,
      }))
    : [];
  return {
    env: envList(input.baseEnv, imageEnv),
    entrypoint: def ? [...def.command] : null,
    cmd: def ? [...def.args] : null,
    workingDir: def?.workingDir ?? input.appMount,
    scriptEntries,
  };
}

/**
 * `#!/bin/sh` script for one process: sets the variables in which its env differs from the image's, changes
 * to its working dir, and execs its command with its args, or with the caller's args when given.
 */
export function processScript(p: BuildpackProcess, imageEnv: Readonly<Env>, procEnv: Readonly<Env>, appMount: string): string {
  const lines = ['#!/bin/sh', `# process "${p.type}" of ${p.buildpackId}; environment resolved at export (no launcher)`];
  for (const k of Object.keys(imageEnv).sort()) if (!(k in procEnv)) lines.push(`unset ${k}`);
  for (const k of Object.keys(procEnv).sort()) if (imageEnv[k] !== procEnv[k]) lines.push(`export ${k}=${shellQuote(procEnv[k]!)}`);
  lines.push(`cd ${shellQuote(p.workingDir ?? appMount)} || exit 1`);
  const cmd = p.command.map(shellQuote).join(' ');
  const args = p.args.map(shellQuote).join(' ');
  lines.push(`if [ "$#" -gt 0 ]; then exec ${cmd} "$@"; fi`);
  lines.push(`exec ${cmd}${args ? ` ${args}` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function envMap(list: readonly string[]): Env {
  const env: Env = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

/** The base's order kept, changed values in place, new variables appended sorted. */
function envList(base: readonly string[], env: Readonly<Env>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const kv of base) {
    const k = kv.slice(0, kv.indexOf('='));
    if (!(k in env) || seen.has(k)) continue;
    seen.add(k);
    out.push(`${k}=${env[k]}`);
  }
  for (const k of Object.keys(env).sort()) if (!seen.has(k)) out.push(`${k}=${env[k]}`);
  return out;
}
