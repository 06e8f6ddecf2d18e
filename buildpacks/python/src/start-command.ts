import { join } from 'node:path';
import { BuildpackError, parseProcfile, type Process } from '../../lib/index.js';
import { projectScripts, type PythonProject } from './project.js';

/** Characters that make a command line need a shell (expansion, redirection, chaining, quoting). */
const SHELL_SYNTAX = /[|&;<>()$`\\"'*?[\]#~=%{}\n]/;

/** Where things are in the image, for absolute process commands (no PATH lookup, no launcher). */
export interface StartPaths {
  /** The interpreter (`<cpython layer>/usr/bin/python3.x`). */
  python: string;
  /** Installed console scripts: name → absolute path. */
  scripts: Record<string, string>;
  /** Normalised names of the installed distributions. */
  distributions: readonly string[];
}

/** A command line as a process command: `python …` and installed scripts by absolute path, `sh -c` when it needs a shell. */
export function commandFor(line: string, paths: StartPaths): string[] {
  const trimmed = line.trim();
  if (SHELL_SYNTAX.test(trimmed)) return ['sh', '-c', trimmed];
  const words = trimmed.split(/\s+/);
  const first = words[0] as string;
  if (/^python(3(\.\d+)?)?$/.test(first)) return [paths.python, ...words.slice(1)];
  const script = paths.scripts[first];
  return script ? [script, ...words.slice(1)] : words;
}

/** Module files that may hold a WSGI/ASGI `app` (or `application`) object, in the order they are tried. */
const APP_MODULES = ['app.py', 'main.py', 'wsgi.py', 'asgi.py', 'server.py'];
const SCRIPT_ENTRIES = ['app.py', 'main.py'];

async function appObject(dir: string, readText: (f: string) => Promise<string | undefined>): Promise<string | undefined> {
  for (const f of APP_MODULES) {
    const text = await readText(join(dir, f));
    if (text === undefined) continue;
    const m = /^(app|application)\s*(?::[^=\n]*)?=/m.exec(text);
    if (m) return `${f.slice(0, -3)}:${m[1]}`;
  }
  return undefined;
}

/**
 * Whether the app can have a start command at all, known before anything is installed: a Procfile, a
 * BP_PYTHON_START, a [project.scripts] entry, or one of the module files the later steps look at. When not,
 * the build fails at once with the same message as {@link startProcesses}, instead of after pip.
 */
export async function assertStartable(project: PythonProject, start: string | undefined, readText: (f: string) => Promise<string | undefined>): Promise<void> {
  if (project.procfile !== undefined || (start ?? '').trim() !== '' || Object.keys(projectScripts(project)).length > 0) return;
  for (const f of new Set([...APP_MODULES, ...SCRIPT_ENTRIES])) if ((await readText(join(project.dir, f))) !== undefined) return;
  throw nothingToStart(project.dir);
}

function nothingToStart(dir: string): BuildpackError {
  return new BuildpackError(
    'CONFIG',
    `no start command for the app in ${dir}: looked for a Procfile with a web: line, a [project.scripts] entry named by BP_PYTHON_START, ` +
      `gunicorn or uvicorn installed with an app object in ${APP_MODULES.join('/')}, then ${SCRIPT_ENTRIES.join(' or ')}; add one of them`,
  );
}

/**
 * launch.toml processes: the Procfile's types; then `web` from the [project.scripts] entry BP_PYTHON_START
 * names, gunicorn or uvicorn when installed and an app module is found, `python app.py` / `main.py`, or the
 * project's only console script. `web` is the default. With nothing to start, the error says what was looked for.
 */
export async function startProcesses(project: PythonProject, paths: StartPaths, start: string | undefined, readText: (f: string) => Promise<string | undefined>): Promise<Process[]> {
  const dir = project.dir;
  const procfile = project.procfile !== undefined ? parseProcfile(project.procfile, join(dir, 'Procfile')) : [];
  const processes: Process[] = procfile.map((p) => ({ type: p.type, command: commandFor(p.command, paths), workingDir: dir }));
  const scripts = projectScripts(project);
  if (!procfile.some((p) => p.type === 'web')) {
    const web = await webCommand();
    if (web) processes.unshift({ type: 'web', command: web, workingDir: dir });
  }
  if (processes.length === 0) throw nothingToStart(dir);
  const def = processes.find((p) => p.type === 'web') ?? (processes[0] as Process);
  def.default = true;
  return processes;

  async function webCommand(): Promise<string[] | undefined> {
    if (start !== undefined && start.trim() !== '') {
      const name = start.trim();
      if (!(name in scripts)) {
        throw new BuildpackError('CONFIG', `BP_PYTHON_START=${name}: ${join(dir, 'pyproject.toml')} [project.scripts] has no such entry (it has: ${Object.keys(scripts).join(', ') || 'none'})`);
      }
      const installed = paths.scripts[name];
      if (!installed) throw new BuildpackError('CONFIG', `BP_PYTHON_START=${name}: pip installed no script of that name (installed: ${Object.keys(paths.scripts).join(', ') || 'none'})`);
      return [installed];
    }
    const target = await appObject(dir, readText);
    if (target && paths.distributions.includes('gunicorn') && paths.scripts['gunicorn']) return [paths.scripts['gunicorn'], target];
    if (target && paths.distributions.includes('uvicorn')) {
      return [paths.python, '-c', `import os, uvicorn; uvicorn.run(${JSON.stringify(target)}, host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))`];
    }
    for (const f of SCRIPT_ENTRIES) if ((await readText(join(dir, f))) !== undefined) return [paths.python, f];
    const names = Object.keys(scripts);
    if (names.length === 1 && paths.scripts[names[0] as string]) return [paths.scripts[names[0] as string] as string];
    return undefined;
  }
}
