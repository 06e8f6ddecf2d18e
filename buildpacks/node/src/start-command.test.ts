import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeProject } from './project.js';
import { parseProcfile } from '../../lib/index.js';
import { commandFor, packageStart, plainWords, startProcesses } from './start-command.js';

const rt = { node: '/layers/lading_nodejs/node/bin/node', npmCli: '/layers/lading_nodejs/node/lib/node_modules/npm/bin/npm-cli.js' };
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function project(files: string[], pkg?: { scripts?: Record<string, string>; main?: string }, procfile?: string): Promise<NodeProject> {
  const dir = await mkdtemp(join(tmpdir(), 'lading-node-start-'));
  dirs.push(dir);
  for (const f of files) await writeFile(join(dir, f), '');
  const p: NodeProject = { dir, hasYarnLock: false, hasPnpmLock: false };
  if (pkg) p.packageJson = { scripts: pkg.scripts ?? {}, engines: {}, dependencies: {}, devDependencies: {}, ...(pkg.main ? { main: pkg.main } : {}) };
  if (procfile !== undefined) p.procfile = procfile;
  return p;
}

describe('start command', () => {
  it('a plain `node file` start script runs node directly (no npm at runtime)', async () => {
    expect(await packageStart(await project([], { scripts: { start: 'node --enable-source-maps dist/server.js --port 80' } }), rt)).toEqual([rt.node, '--enable-source-maps', 'dist/server.js', '--port', '80']);
  });

  it('any other start script runs through npm start', async () => {
    expect(await packageStart(await project([], { scripts: { start: 'NODE_OPTIONS=--x node a.js' } }), rt)).toEqual([rt.node, rt.npmCli, 'start']);
    expect(await packageStart(await project([], { scripts: { start: 'node a.js && echo done' } }), rt)).toEqual([rt.node, rt.npmCli, 'start']);
    expect(await packageStart(await project([], { scripts: { start: 'next start' } }), rt)).toEqual([rt.node, rt.npmCli, 'start']);
  });

  it('then main, then server.js, app.js, index.js', async () => {
    expect(await packageStart(await project(['server.js'], { main: 'lib/main.js' }), rt)).toEqual([rt.node, 'lib/main.js']);
    expect(await packageStart(await project(['index.js', 'app.js'], {}), rt)).toEqual([rt.node, 'app.js']);
    expect(await packageStart(await project(['index.js']), rt)).toEqual([rt.node, 'index.js']);
    expect(await packageStart(await project(['lib.js'], {}), rt)).toBeUndefined();
  });

  it('web is the default process; Procfile types are added and a Procfile web wins', async () => {
    const p = await project(['server.js'], {}, 'worker: node worker.js\n# comment\n\nclock: node clock.js --every 5\n');
    expect(await startProcesses(p, rt, '/workspace')).toEqual([
      { type: 'web', command: [rt.node, 'server.js'], workingDir: p.dir, default: true },
      { type: 'worker', command: [rt.node, 'worker.js'], workingDir: p.dir },
      { type: 'clock', command: [rt.node, 'clock.js', '--every', '5'], workingDir: p.dir },
    ]);
    const web = await project(['server.js'], {}, 'web: node other.js\n');
    expect(await startProcesses(web, rt, '/workspace')).toEqual([{ type: 'web', command: [rt.node, 'other.js'], workingDir: web.dir, default: true }]);
  });

  it('without web, the first Procfile type is the default', async () => {
    const p = await project([], {}, 'worker: node worker.js\n');
    expect((await startProcesses(p, rt, '/workspace'))[0]).toMatchObject({ type: 'worker', default: true });
  });

  it('nothing to start: the error lists what was looked for', async () => {
    await expect(startProcesses(await project(['lib.js'], {}), rt, '/workspace')).rejects.toThrow(
      'no start command for the app in /workspace: looked for "scripts.start" and "main" in package.json, then server.js, app.js, index.js, and a Procfile; add one of them',
    );
  });
});

describe('Procfile and command lines', () => {
  it('names the bad line', () => {
    expect(() => parseProcfile('web: node a.js\nnot a process\n', '/workspace/Procfile')).toThrow('/workspace/Procfile line 2: expected "<type>: <command>", got "not a process"');
    expect(() => parseProcfile('web:\n', 'Procfile')).toThrow('Procfile line 1');
  });

  it('runs plain words directly and anything needing a shell through sh -c', () => {
    expect(plainWords(' node  a.js ')).toEqual(['node', 'a.js']);
    expect(plainWords('echo $HOME')).toBeUndefined();
    expect(commandFor('node a.js', rt)).toEqual([rt.node, 'a.js']);
    expect(commandFor('/usr/bin/env true', rt)).toEqual(['/usr/bin/env', 'true']);
    expect(commandFor('node a.js > log.txt', rt)).toEqual(['sh', '-c', 'node a.js > log.txt']);
  });
});
