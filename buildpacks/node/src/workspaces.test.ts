import { mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readProject } from './project.js';
import { installRoot, relinkMembers, workspaceMembers } from './workspaces.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lading-node-ws-'));
  dirs.push(d);
  return d;
}
const lock = JSON.stringify({ packages: { '': {}, 'node_modules/@demo/lib': { resolved: 'packages/lib', link: true }, 'node_modules/web': { resolved: 'apps/web', link: true }, 'node_modules/x': { version: '1.0.0' } } });

describe('npm workspaces', () => {
  it('members come from the lockfile links', () => {
    expect(workspaceMembers(lock, 'package-lock.json')).toEqual(['apps/web', 'packages/lib']);
    expect(() => workspaceMembers(JSON.stringify({ packages: { 'node_modules/a': { resolved: '../outside', link: true } } }), '/w/package-lock.json')).toThrow('/w/package-lock.json: workspace link "../outside" leaves the workspace root');
  });

  it('a member without a lockfile installs from the workspace root that links it', async () => {
    const app = await tmp();
    await writeFile(join(app, 'package.json'), JSON.stringify({ workspaces: ['packages/*', 'apps/*'] }));
    await writeFile(join(app, 'package-lock.json'), lock);
    await mkdir(join(app, 'apps', 'web'), { recursive: true });
    await writeFile(join(app, 'apps', 'web', 'package.json'), '{}');
    const member = await readProject(join(app, 'apps', 'web'));
    const { root, members } = await installRoot(app, member);
    expect(root.dir).toBe(app);
    expect(members).toEqual(['apps/web', 'packages/lib']);
    const alone = await readProject(app);
    expect((await installRoot(app, alone)).root).toBe(alone);
  });

  it('a project with its own lockfile installs itself', async () => {
    const app = await tmp();
    await writeFile(join(app, 'package.json'), '{}');
    await writeFile(join(app, 'package-lock.json'), '{}');
    const p = await readProject(app);
    expect(await installRoot(app, p)).toEqual({ root: p, members: [] });
  });

  it('member links in node_modules point at the members in the app; package links stay', async () => {
    const layer = await tmp();
    await mkdir(join(layer, 'node_modules', '@demo'), { recursive: true });
    await mkdir(join(layer, 'node_modules', 'real'), { recursive: true });
    await symlink('../../packages/lib', join(layer, 'node_modules', '@demo', 'lib'));
    await symlink('real', join(layer, 'node_modules', 'alias'));
    await relinkMembers(layer, '/workspace');
    expect(await readlink(join(layer, 'node_modules', '@demo', 'lib'))).toBe('/workspace/packages/lib');
    expect(await readlink(join(layer, 'node_modules', 'alias'))).toBe('real');
  });
});
