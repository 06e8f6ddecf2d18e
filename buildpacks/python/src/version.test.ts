import { describe, expect, it } from 'vitest';
import semver from 'semver';
import { pep440Range, pythonVersionFile, pythonVersionRequest, runtimeTxt } from './version.js';
import type { PythonProject } from './project.js';

const satisfies = (spec: string, v: string) => semver.satisfies(v, pep440Range(spec, 'pyproject.toml'));

describe('requires-python (PEP 440) as a semver range', () => {
  it('keeps the meaning of each operator', () => {
    expect(satisfies('>=3.10', '3.11.2')).toBe(true);
    expect(satisfies('>=3.12', '3.11.2')).toBe(false);
    expect(satisfies('>=3.8,<3.11', '3.11.0')).toBe(false);
    expect(satisfies('~=3.10', '3.11.2')).toBe(true);
    expect(satisfies('~=3.10', '4.0.0')).toBe(false);
    expect(satisfies('~=3.11.1', '3.11.2')).toBe(true);
    expect(satisfies('~=3.11.1', '3.12.0')).toBe(false);
    expect(satisfies('==3.11.*', '3.11.2')).toBe(true);
    expect(satisfies('==3.11.*', '3.12.0')).toBe(false);
    expect(satisfies('==3.11.2', '3.11.2')).toBe(true);
    expect(satisfies('>=3.9, !=3.11.*', '3.11.2')).toBe(false);
    expect(satisfies('>=3.9, !=3.11.*', '3.12.1')).toBe(true);
    expect(satisfies('!=3.11.1', '3.11.2')).toBe(true);
  });

  it('names the file and the clause it cannot read', () => {
    expect(() => pep440Range('>=3.x', '/app/pyproject.toml')).toThrow('/app/pyproject.toml: "3.x"'.replace('"3.x"', '">=3.x": only release versions'));
    expect(() => pep440Range('python3', '/app/pyproject.toml')).toThrow('/app/pyproject.toml: "python3" is not a PEP 440 version specifier');
    expect(() => pep440Range('~=3', '/p')).toThrow('~= needs at least two components');
  });
});

describe('version files', () => {
  it('.python-version: pyenv format, first meaningful line, CPython only', () => {
    expect(pythonVersionFile('# pinned\n3.11\n', 'f')).toBe('3.11');
    expect(pythonVersionFile('3.11.2\n3.10\n', 'f')).toBe('3.11.2');
    expect(pythonVersionFile('\n', 'f')).toBeUndefined();
    expect(() => pythonVersionFile('pypy3.9-7.3.11', '/app/.python-version')).toThrow('/app/.python-version: "pypy3.9-7.3.11" is not a CPython version');
  });

  it('runtime.txt: python-<version>', () => {
    expect(runtimeTxt('python-3.11.2\n', 'f')).toBe('3.11.2');
    expect(() => runtimeTxt('3.11', '/app/runtime.txt')).toThrow('/app/runtime.txt: "3.11" is not "python-<version>"');
  });
});

describe('the version request: BP_CPYTHON_VERSION > .python-version > runtime.txt > requires-python > default', () => {
  const project = (p: Partial<PythonProject>): PythonProject => ({ dir: '/app', hasSetupPy: false, ...p });
  const all = project({ pythonVersionFile: '3.10\n', runtimeTxt: 'python-3.9.1', pyproject: { project: { 'requires-python': '>=3.8' } } });

  it('takes the most specific', () => {
    expect(pythonVersionRequest(all, '3.12', '3.x')).toEqual({ constraint: '3.12', source: 'BP_CPYTHON_VERSION' });
    expect(pythonVersionRequest(all, undefined, '3.x')).toEqual({ constraint: '3.10', source: '.python-version' });
    expect(pythonVersionRequest(project({ runtimeTxt: 'python-3.9.1', pyproject: { project: { 'requires-python': '>=3.8' } } }), undefined, '3.x')).toEqual({ constraint: '3.9.1', source: 'runtime.txt' });
    expect(pythonVersionRequest(project({ pyproject: { project: { 'requires-python': '>=3.8' } } }), undefined, '3.x')).toEqual({ constraint: '>=3.8.0', source: 'pyproject.toml requires-python ">=3.8"' });
    expect(pythonVersionRequest(project({}), undefined, '3.x')).toEqual({ constraint: '3.x', source: 'buildpack default' });
  });
});
