import { describe, expect, it } from 'vitest';
import { parseProcfile } from '../../lib/index.js';
import { commandFor, startProcesses, type StartPaths } from './start-command.js';
import type { PythonProject } from './project.js';

const PY = '/layers/lading_python/cpython/usr/bin/python3.11';
const paths = (p: Partial<StartPaths> = {}): StartPaths => ({ python: PY, scripts: {}, distributions: [], ...p });
const project = (p: Partial<PythonProject> = {}): PythonProject => ({ dir: '/workspace', hasSetupPy: false, ...p });
const files = (fs: Record<string, string>) => async (f: string) => fs[f.replace('/workspace/', '')];

describe('start command', () => {
  it('Procfile web wins; python and installed scripts run by absolute path; shell syntax through sh -c', async () => {
    const ps = await startProcesses(project({ procfile: 'web: python server.py\nworker: celery -A tasks worker\nclock: echo $PORT\n' }), paths({ scripts: { celery: '/l/bin/celery' } }), 'ignored', files({ 'app.py': 'app = 1' }));
    expect(ps).toEqual([
      { type: 'web', command: [PY, 'server.py'], workingDir: '/workspace', default: true },
      { type: 'worker', command: ['/l/bin/celery', '-A', 'tasks', 'worker'], workingDir: '/workspace' },
      { type: 'clock', command: ['sh', '-c', 'echo $PORT'], workingDir: '/workspace' },
    ]);
    expect(commandFor('python3 -m http.server', paths())).toEqual([PY, '-m', 'http.server']);
  });

  it('BP_PYTHON_START names a [project.scripts] entry; an unknown one is an error listing the entries', async () => {
    const p = project({ pyproject: { project: { scripts: { 'hello-web': 'helloweb:main', other: 'x:y' } } } });
    expect((await startProcesses(p, paths({ scripts: { 'hello-web': '/l/bin/hello-web' } }), 'hello-web', files({})))[0]?.command).toEqual(['/l/bin/hello-web']);
    await expect(startProcesses(p, paths(), 'nope', files({}))).rejects.toThrow('BP_PYTHON_START=nope: /workspace/pyproject.toml [project.scripts] has no such entry (it has: hello-web, other)');
  });

  it('gunicorn or uvicorn with an app object, then app.py / main.py, then the only console script', async () => {
    const gunicorn = paths({ distributions: ['gunicorn'], scripts: { gunicorn: '/l/bin/gunicorn' } });
    expect((await startProcesses(project(), gunicorn, undefined, files({ 'wsgi.py': 'application = make()' })))[0]?.command).toEqual(['/l/bin/gunicorn', 'wsgi:application']);
    const uvicorn = (await startProcesses(project(), paths({ distributions: ['uvicorn'] }), undefined, files({ 'main.py': 'app: FastAPI = FastAPI()' })))[0]?.command;
    expect(uvicorn?.[0]).toBe(PY);
    expect(uvicorn?.[2]).toContain('uvicorn.run("main:app", host="0.0.0.0"');
    expect((await startProcesses(project(), paths(), undefined, files({ 'main.py': 'print(1)' })))[0]?.command).toEqual([PY, 'main.py']);
    const one = project({ pyproject: { project: { scripts: { serve: 'pkg:main' } } } });
    expect((await startProcesses(one, paths({ scripts: { serve: '/l/bin/serve' } }), undefined, files({})))[0]?.command).toEqual(['/l/bin/serve']);
  });

  it('nothing to start: says what was looked for', async () => {
    await expect(startProcesses(project(), paths(), undefined, files({}))).rejects.toThrow(/no start command for the app in \/workspace: looked for a Procfile with a web: line, a \[project.scripts\] entry named by BP_PYTHON_START, gunicorn or uvicorn .* then app.py or main.py/);
  });

  it('a bad Procfile line is named', () => {
    expect(() => parseProcfile('web python app.py\n', '/workspace/Procfile')).toThrow('/workspace/Procfile line 1: expected "<type>: <command>"');
  });
});

describe('assertStartable (before anything is installed)', () => {
  it('passes with a Procfile, BP_PYTHON_START, project scripts or a module file; fails with the same message otherwise', async () => {
    const { assertStartable } = await import('./start-command.js');
    await expect(assertStartable(project({ procfile: 'web: x' }), undefined, files({}))).resolves.toBeUndefined();
    await expect(assertStartable(project(), 'serve', files({}))).resolves.toBeUndefined();
    await expect(assertStartable(project(), undefined, files({ 'wsgi.py': '' }))).resolves.toBeUndefined();
    await expect(assertStartable(project({ pyproject: { project: { scripts: { a: 'b:c' } } } }), undefined, files({}))).resolves.toBeUndefined();
    await expect(assertStartable(project(), undefined, files({ 'lib.py': '' }))).rejects.toThrow('no start command for the app in /workspace: looked for a Procfile');
  });
});
