import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { BuildpackError, isTable, type TomlTable } from '../../lib/index.js';

/** What a Python project holds, read once: the files that choose the interpreter, the install and the start. */
export interface PythonProject {
  dir: string;
  requirements?: string;
  /** pyproject.toml, parsed. */
  pyproject?: TomlTable;
  hasSetupPy: boolean;
  pipfile?: TomlTable;
  pythonVersionFile?: string;
  runtimeTxt?: string;
  procfile?: string;
}

/** The files whose presence makes a Python project (detection), in the order they are reported. */
export const MARKERS = ['requirements.txt', 'pyproject.toml', 'setup.py', 'Pipfile', '.python-version'] as const;

export const isFile = (p: string) => stat(p).then((s) => s.isFile(), () => false);

async function text(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BuildpackError('CONFIG', `${file}: cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

function toml(file: string, content: string | undefined): TomlTable | undefined {
  if (content === undefined) return undefined;
  try {
    return parseToml(content) as TomlTable;
  } catch (err) {
    const e = err as { line?: number; column?: number; message: string };
    const where = e.line ? ` line ${e.line}, column ${e.column ?? 0}` : '';
    throw new BuildpackError('CONFIG', `${file}:${where} is not valid TOML: ${e.message.split('\n')[0]}`, { cause: err });
  }
}

export async function readProject(dir: string): Promise<PythonProject> {
  const [requirements, pyproject, hasSetupPy, pipfile, pythonVersionFile, runtimeTxt, procfile] = await Promise.all([
    text(join(dir, 'requirements.txt')),
    text(join(dir, 'pyproject.toml')),
    isFile(join(dir, 'setup.py')),
    text(join(dir, 'Pipfile')),
    text(join(dir, '.python-version')),
    text(join(dir, 'runtime.txt')),
    text(join(dir, 'Procfile')),
  ]);
  const p: PythonProject = { dir, hasSetupPy };
  if (requirements !== undefined) p.requirements = requirements;
  const py = toml(join(dir, 'pyproject.toml'), pyproject);
  if (py) p.pyproject = py;
  const pf = toml(join(dir, 'Pipfile'), pipfile);
  if (pf) p.pipfile = pf;
  if (pythonVersionFile !== undefined) p.pythonVersionFile = pythonVersionFile;
  if (runtimeTxt !== undefined) p.runtimeTxt = runtimeTxt;
  if (procfile !== undefined) p.procfile = procfile;
  return p;
}

/** `[project]` of pyproject.toml (PEP 621), when there is one. */
export function projectTable(p: PythonProject): TomlTable | undefined {
  const t = p.pyproject?.['project'];
  return isTable(t) ? t : undefined;
}

/** `[project.scripts]`: console script name → `module:function`. */
export function projectScripts(p: PythonProject): Record<string, string> {
  const s = projectTable(p)?.['scripts'];
  if (!isTable(s)) return {};
  return Object.fromEntries(Object.entries(s).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The project itself is a distribution pip installs (pyproject with a build system or [project], or setup.py). */
export function isInstallable(p: PythonProject): boolean {
  return p.hasSetupPy || (p.pyproject !== undefined && (projectTable(p) !== undefined || isTable(p.pyproject['build-system'])));
}
