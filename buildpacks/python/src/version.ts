import { join } from 'node:path';
import { BuildpackError, selectVersionRequest, type VersionRequest } from '../../lib/index.js';
import { projectTable, type PythonProject } from './project.js';

/** `X`, `X.Y` or `X.Y.Z` as in `3.11`. */
const RELEASE = /^\d+(\.\d+){0,2}$/;

/** One PEP 440 clause (`>=3.8`, `~=3.10`, `==3.11.*`, `!=3.9.*`) as semver alternatives (any of them). */
function clauseAlternatives(clause: string, file: string): string[] {
  const m = /^(~=|===|==|!=|<=|>=|<|>)\s*(\S+)$/.exec(clause.trim());
  if (!m) throw new BuildpackError('CONFIG', `${file}: "${clause.trim()}" is not a PEP 440 version specifier (e.g. ">=3.10", "~=3.11", "==3.11.*")`);
  const op = m[1] as string;
  let v = m[2] as string;
  const wildcard = v.endsWith('.*');
  if (wildcard) v = v.slice(0, -2);
  if (!RELEASE.test(v)) throw new BuildpackError('CONFIG', `${file}: "${clause.trim()}": only release versions (3, 3.11, 3.11.2) are understood for Python`);
  const parts = v.split('.').map(Number);
  const pad = (p: number[]) => [...p, 0, 0].slice(0, 3).join('.');
  const next = (p: number[]) => {
    const q = [...p];
    q[q.length - 1] = (q[q.length - 1] as number) + 1;
    return pad(q);
  };
  switch (op) {
    case '~=': {
      if (parts.length < 2) throw new BuildpackError('CONFIG', `${file}: "${clause.trim()}": ~= needs at least two components (~=3.10)`);
      return [`>=${pad(parts)} <${next(parts.slice(0, -1))}`];
    }
    case '==':
    case '===':
      return wildcard ? [`>=${pad(parts)} <${next(parts)}`] : [`=${pad(parts)}`];
    case '!=':
      return wildcard ? [`<${pad(parts)}`, `>=${next(parts)}`] : [`<${pad(parts)}`, `>${pad(parts)}`];
    case '<=':
      return [`<=${pad(parts)}`];
    case '>':
      return [`>${pad(parts)}`];
    case '<':
      return [`<${pad(parts)}`];
    default:
      return [`>=${pad(parts)}`];
  }
}

/** PEP 440 `requires-python` (comma-separated clauses, all must hold) as one semver range. */
export function pep440Range(spec: string, file: string): string {
  const clauses = spec.split(',').filter((c) => c.trim() !== '');
  if (clauses.length === 0) throw new BuildpackError('CONFIG', `${file}: requires-python is empty`);
  let sets: string[] = [''];
  for (const c of clauses) {
    const alts = clauseAlternatives(c, file);
    sets = sets.flatMap((s) => alts.map((a) => `${s} ${a}`.trim()));
  }
  return sets.join(' || ');
}

/** The first meaningful line of .python-version (pyenv's format): a CPython version; other interpreters are refused. */
export function pythonVersionFile(content: string, file: string): string | undefined {
  const line = content.split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).find((l) => l !== '');
  if (line === undefined) return undefined;
  const v = line.replace(/^(cpython-|python-?)/i, '');
  if (!/^\d+(\.\d+){0,2}$/.test(v) && v !== '3.x') throw new BuildpackError('CONFIG', `${file}: "${line}" is not a CPython version (e.g. 3.11 or 3.11.2); only CPython is provided`);
  return v;
}

/** runtime.txt (Heroku's format): `python-3.11.2`. */
export function runtimeTxt(content: string, file: string): string | undefined {
  const line = content.trim();
  if (line === '') return undefined;
  const m = /^python-(\d+(?:\.\d+){0,2})$/.exec(line);
  if (!m) throw new BuildpackError('CONFIG', `${file}: "${line.split('\n')[0]}" is not "python-<version>" (e.g. python-3.11.2)`);
  return m[1];
}

/** BP_CPYTHON_VERSION > .python-version > runtime.txt > requires-python in pyproject.toml > the buildpack default. */
export function pythonVersionRequest(project: PythonProject, env: string | undefined, fallback: string): VersionRequest {
  const dir = project.dir;
  const requires = projectTable(project)?.['requires-python'];
  if (requires !== undefined && typeof requires !== 'string') throw new BuildpackError('CONFIG', `${join(dir, 'pyproject.toml')}: [project] requires-python must be a string`);
  const candidate = (constraint: string | undefined, source: string): VersionRequest | undefined => (constraint === undefined ? undefined : { constraint, source });
  return (
    selectVersionRequest([
      candidate(env, 'BP_CPYTHON_VERSION'),
      candidate(project.pythonVersionFile !== undefined ? pythonVersionFile(project.pythonVersionFile, join(dir, '.python-version')) : undefined, '.python-version'),
      candidate(project.runtimeTxt !== undefined ? runtimeTxt(project.runtimeTxt, join(dir, 'runtime.txt')) : undefined, 'runtime.txt'),
      candidate(requires !== undefined ? pep440Range(requires, join(dir, 'pyproject.toml')) : undefined, `pyproject.toml requires-python "${requires ?? ''}"`),
    ]) ?? { constraint: fallback, source: 'buildpack default' }
  );
}
