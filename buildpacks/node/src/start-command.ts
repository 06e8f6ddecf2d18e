import { join } from 'node:path';
import { BuildpackError, parseProcfile, type Process } from '../../lib/index.js';
import { isFile, SCRIPT_ENTRIES, type NodeProject } from './project.js';

/** Where node and npm are in the image. */
export interface RuntimePaths {
  node: string;
  npmCli: string;
}

/** Characters that make a command line need a shell (expansion, redirection, chaining, quoting). */
const SHELL_SYNTAX = /[|&;<>()$`\\"'*?[\]#~=%{}\n]/;

/** Splits a command line into words when no shell is needed to run it; undefined otherwise. */
export function plainWords(line: string): string[] | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || SHELL_SYNTAX.test(trimmed)) return undefined;
  return trimmed.split(/\s+/);
}

/**
 * A command line as a process command: `node …` runs the runtime's node directly, other plain words run as
 * they are, and anything needing a shell runs through `sh -c` (the run image must then have /bin/sh).
 */
export function commandFor(line: string, rt: RuntimePaths): string[] {
  const words = plainWords(line);
  if (!words) return ['sh', '-c', line.trim()];
  return words[0] === 'node' ? [rt.node, ...words.slice(1)] : words;
}

/**
 * The `web` process from package.json: `scripts.start` (run directly when it is a plain `node …` command, so
 * no npm process stays at runtime; else `npm start`), else `main`, else the first of server.js, app.js,
 * index.js. Undefined when none applies.
 */
export async function packageStart(project: NodeProject, rt: RuntimePaths): Promise<string[] | undefined> {
  const pkg = project.packageJson;
  const start = pkg?.scripts['start'];
  if (start !== undefined) {
    const words = plainWords(start);
    return words && words[0] === 'node' && words.length > 1 ? [rt.node, ...words.slice(1)] : [rt.node, rt.npmCli, 'start'];
  }
  if (pkg?.main !== undefined && pkg.main.trim() !== '') return [rt.node, pkg.main];
  for (const f of SCRIPT_ENTRIES) if (await isFile(join(project.dir, f))) return [rt.node, f];
  return undefined;
}

/**
 * launch.toml processes: the Procfile's types, plus `web` from package.json when the Procfile has none. `web`
 * is the default, else the first Procfile type. With nothing to start, the error lists what was looked for.
 */
export async function startProcesses(project: NodeProject, rt: RuntimePaths, displayDir: string): Promise<Process[]> {
  const procfile = project.procfile !== undefined ? parseProcfile(project.procfile, join(displayDir, 'Procfile')) : [];
  const processes: Process[] = procfile.map((p) => ({ type: p.type, command: commandFor(p.command, rt), workingDir: project.dir }));
  if (!procfile.some((p) => p.type === 'web')) {
    const web = await packageStart(project, rt);
    if (web) processes.unshift({ type: 'web', command: web, workingDir: project.dir });
  }
  if (processes.length === 0) {
    throw new BuildpackError(
      'CONFIG',
      `no start command for the app in ${displayDir}: looked for "scripts.start" and "main" in package.json, ` +
        `then ${SCRIPT_ENTRIES.join(', ')}, and a Procfile; add one of them`,
    );
  }
  const def = processes.find((p) => p.type === 'web') ?? processes[0]!;
  def.default = true;
  return processes;
}
