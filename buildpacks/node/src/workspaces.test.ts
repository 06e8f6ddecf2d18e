import { lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readProject } from './project.js';
import { installRoot, memberClosure, memberManifests, relinkMembers, removeEmptyMemberDirs, unlinkMemberModules, workspaceMembers, type MemberManifest } from './workspaces.js';

const FIXTURES = join(resolve(import.meta.dirname, '../../..'), 'test/fixtures/apps');

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
    // A directory the lockfile does not link is not a member.
    await mkdir(join(app, 'apps', 'other'), { recursive: true });
    await writeFile(join(app, 'apps', 'other', 'package.json'), '{}');
    await expect(installRoot(app, await readProject(join(app, 'apps', 'other')))).rejects.toThrow(`BP_NODE_PROJECT_PATH=apps/other: ${join(app, 'apps', 'other')} is not a member of the npm workspace at ${app}, whose members (from the links of ${join(app, 'package-lock.json')}) are: apps/web, packages/lib`);
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

describe('yarn and pnpm workspaces', () => {
  it('a yarn workspace member installs from the root yarn.lock (classic: globs, berry: the lockfile)', async () => {
    for (const fixture of ['node-yarn-workspace', 'node-yarn-berry-workspace']) {
      const app = join(FIXTURES, fixture);
      const { root, members } = await installRoot(app, await readProject(join(app, 'packages', 'api')));
      expect(root.dir).toBe(app);
      expect(members).toEqual(['packages/api', 'packages/lib', 'packages/worker']);
    }
  });

  it('a directory inside a workspace root that is not a member is refused, naming the root and its members', async () => {
    const app = await tmp();
    await writeFile(join(app, 'package.json'), JSON.stringify({ private: true, workspaces: ['packages/*'] }));
    await writeFile(join(app, 'yarn.lock'), '# yarn lockfile v1\n');
    await mkdir(join(app, 'packages', 'api'), { recursive: true });
    await writeFile(join(app, 'packages', 'api', 'package.json'), '{}');
    await mkdir(join(app, 'tools', 'other'), { recursive: true });
    await writeFile(join(app, 'tools', 'other', 'package.json'), '{}');
    await expect(installRoot(app, await readProject(join(app, 'tools', 'other')))).rejects.toThrow(
      `BP_NODE_PROJECT_PATH=tools/other: ${join(app, 'tools', 'other')} is not a member of the yarn workspace at ${app}, whose members (from ${join(app, 'package.json')} "workspaces") are: packages/api`,
    );
    // A sub-directory of a member is not a member either.
    await mkdir(join(app, 'packages', 'api', 'src'), { recursive: true });
    await expect(installRoot(app, await readProject(join(app, 'packages', 'api', 'src')))).rejects.toThrow('is not a member of the yarn workspace');
    // pnpm: the importers of pnpm-lock.yaml name the members.
    const pnpmApp = join(FIXTURES, 'node-pnpm-workspace');
    await expect(installRoot(pnpmApp, await readProject(join(pnpmApp, 'packages')))).rejects.toThrow(`is not a member of the pnpm workspace at ${pnpmApp}, whose members (from the importers of ${join(pnpmApp, 'pnpm-lock.yaml')}) are: packages/lib, packages/web, packages/worker`);
  });

  it('a pnpm project without pnpm-workspace.yaml or a yarn project without "workspaces" roots no workspace', async () => {
    const app = await tmp();
    await writeFile(join(app, 'package.json'), '{}');
    await writeFile(join(app, 'yarn.lock'), '');
    await mkdir(join(app, 'sub'));
    await writeFile(join(app, 'sub', 'package.json'), '{}');
    const sub = await readProject(join(app, 'sub'));
    expect(await installRoot(app, sub)).toEqual({ root: sub, members: [] });
  });

  it('the closure of a member: the members it depends on for production (transitively), by workspace: range or a satisfied version', () => {
    const m = (name: string, deps: Record<string, string> = {}, extra: Partial<MemberManifest> = {}): MemberManifest => ({ name, version: '1.0.0', dependencies: deps, optionalDependencies: {}, devDependencies: {}, ...extra });
    const manifests = new Map<string, MemberManifest>([
      ['apps/api', m('api', { lib: '^1.0.0', debug: '^4' }, { devDependencies: { testkit: 'workspace:*' } })],
      ['libs/lib', m('lib', { util: 'workspace:^' })],
      ['libs/util', m('util')],
      ['libs/old', m('old')],
      ['libs/testkit', m('testkit', { old: '*' })],
      ['apps/worker', m('worker', { lib: '2.0.0' }, { optionalDependencies: { old: '1.0.0' } })],
    ]);
    expect(memberClosure(manifests, 'apps/api')).toEqual(['apps/api', 'libs/lib', 'libs/util']);
    // Dev dependencies count for the selected member only (build-time installs).
    expect(memberClosure(manifests, 'apps/api', ['dependencies', 'optionalDependencies', 'devDependencies'])).toEqual(['apps/api', 'libs/lib', 'libs/old', 'libs/testkit', 'libs/util']);
    // lib@2.0.0 is not the member (1.0.0): the registry's; optional dependencies count.
    expect(memberClosure(manifests, 'apps/worker')).toEqual(['apps/worker', 'libs/old']);
  });

  it('member manifests: name, version and dependencies; an unreadable one names the file', async () => {
    const app = join(FIXTURES, 'node-yarn-workspace');
    const manifests = await memberManifests(app, ['packages/api', 'packages/lib']);
    expect(manifests.get('packages/api')).toMatchObject({ name: '@demo/api', version: '1.0.0', dependencies: { '@demo/lib': '1.0.0', debug: '^4.3.0' }, devDependencies: { 'is-odd': '^3.0.1' } });
    expect(memberClosure(await memberManifests(app, ['packages/api', 'packages/lib', 'packages/worker']), 'packages/api')).toEqual(['packages/api', 'packages/lib']);
    await expect(memberManifests(app, ['packages/none'])).rejects.toThrow(`${join(app, 'packages', 'none', 'package.json')} of workspace member packages/none cannot be read`);
  });

  it('empty staged member directories are removed from the layer; links to build-only member modules are dropped from the app', async () => {
    const layer = await tmp();
    await mkdir(join(layer, 'packages', 'a'), { recursive: true });
    await mkdir(join(layer, 'packages', 'b', 'node_modules'), { recursive: true });
    await removeEmptyMemberDirs(layer, ['packages/a', 'packages/b']);
    expect(await readdir(join(layer, 'packages'))).toEqual(['b']);
    await removeEmptyMemberDirs(layer, ['packages/b']);
    expect(await readdir(layer)).toEqual(['packages']);

    const app = await tmp();
    for (const m of ['a', 'b']) {
      await mkdir(join(app, m));
      await symlink('/layers/x/build-modules/node_modules', join(app, m, 'node_modules'));
    }
    await unlinkMemberModules(app, { metadata: { 'member-modules': ['a', 'b'] } }, { metadata: { 'member-modules': ['b'] } });
    expect(await lstat(join(app, 'a', 'node_modules')).catch(() => undefined)).toBeUndefined();
    expect((await lstat(join(app, 'b', 'node_modules'))).isSymbolicLink()).toBe(true);
  });
});
