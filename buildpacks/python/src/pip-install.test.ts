import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DetectContext } from '../../lib/index.js';
import { detect } from './detect.js';
import { pipfileRequirements, treeChecksum } from './pip-install.js';

const root = mkdtempSync(join(tmpdir(), 'lading-python-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const app = (name: string, files: Record<string, string>) => {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  for (const [f, c] of Object.entries(files)) {
    mkdirSync(join(d, f, '..'), { recursive: true });
    writeFileSync(join(d, f), c);
  }
  return d;
};

describe('detection', () => {
  const run = (appDir: string) => detect({ appDir } as DetectContext);
  it('passes for each project file and for a Procfile starting a .py file; fails saying what it looked for', async () => {
    for (const f of ['requirements.txt', 'pyproject.toml', 'setup.py', 'Pipfile', '.python-version']) expect((await run(app(`m-${f}`, { [f]: '' }))).pass).toBe(true);
    expect((await run(app('procfile', { Procfile: 'web: python serve.py --port 1\n', 'serve.py': '' }))).pass).toBe(true);
    const none = await run(app('none', { Procfile: 'web: ./server\n', 'index.js': '' }));
    expect(none).toEqual({ pass: false, reason: expect.stringContaining('no requirements.txt, pyproject.toml, setup.py, Pipfile, .python-version in') });
  });
});

describe('Pipfile [packages] as requirement lines', () => {
  it('versions, wildcards, extras and markers; path and VCS entries refused', () => {
    expect(pipfileRequirements({ packages: { flask: '*', requests: '>=2.31', gunicorn: '21.2.0', celery: { version: '~=5.3', extras: ['redis'], markers: "sys_platform == 'linux'" } } }, 'Pipfile')).toEqual([
      'flask',
      'requests>=2.31',
      'gunicorn==21.2.0',
      "celery[redis]~=5.3 ; sys_platform == 'linux'",
    ]);
    expect(() => pipfileRequirements({ packages: { mine: { path: '.' } } }, '/app/Pipfile')).toThrow('/app/Pipfile: [packages] mine: path, file and git entries are not supported');
  });
});

describe('the installed project\'s source checksum', () => {
  it('changes with a source file, not with build leftovers or bytecode', async () => {
    const d = app('tree', { 'pyproject.toml': '[project]\nname="x"\n', 'src/x/__init__.py': 'A = 1\n' });
    const before = await treeChecksum(d);
    app('tree', { 'build/lib/x.py': '', 'src/x/__pycache__/x.pyc': '', 'src/x.egg-info/PKG-INFO': '' });
    expect(await treeChecksum(d)).toBe(before);
    app('tree', { 'src/x/__init__.py': 'A = 2\n' });
    expect(await treeChecksum(d)).not.toBe(before);
  });
});
