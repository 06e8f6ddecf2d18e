import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bwrapArgs, unshareArgs } from './commands.js';
import { NO_ISOLATION, namespaceIsolation } from './isolation.js';
import { buildMounts, imagePaths, readHostRoot, type RootEntry } from './mounts.js';

const root: RootEntry[] = [
  { path: '/bin', kind: 'link', target: 'usr/bin' },
  { path: '/etc', kind: 'dir' },
  { path: '/info.json', kind: 'file' },
  { path: '/usr', kind: 'dir' },
];
const dirs = { appDir: '/tmp/b/app', layersDir: '/tmp/b/layers', platformDir: '/tmp/b/platform', buildpack: { dir: '/opt/bps/node', id: 'acme/node', version: '1.2.0' } };
const command = { file: '/cnb/buildpacks/acme_node/1.2.0/bin/build', args: ['/layers/acme_node'], cwd: '/workspace' };
const made: string[] = [];
afterAll(async () => {
  for (const d of made) await rm(d, { recursive: true, force: true });
});

describe('design.md §1 Paths are part of the contract — where buildpacks see a build’s dirs', () => {
  it('image paths: /workspace, /layers, /platform and /cnb/buildpacks/<escaped id>/<version>', () => {
    expect(imagePaths(dirs)).toEqual({ appDir: '/workspace', layersDir: '/layers', platformDir: '/platform', buildpackDir: '/cnb/buildpacks/acme_node/1.2.0' });
    expect(imagePaths({ appDir: '/x' })).toEqual({ appDir: '/workspace' });
    expect(buildMounts(dirs).map((m) => `${m.source}→${m.target}`)).toEqual([
      '/tmp/b/app→/workspace',
      '/tmp/b/layers→/layers',
      '/tmp/b/platform→/platform',
      '/opt/bps/node→/cnb/buildpacks/acme_node/1.2.0',
    ]);
  });

  it('without a namespace (--workspace/--layers-dir) the host paths are used and nothing is wrapped', () => {
    expect(NO_ISOLATION.paths(dirs)).toEqual({ appDir: '/tmp/b/app', layersDir: '/tmp/b/layers', platformDir: '/tmp/b/platform', buildpackDir: '/opt/bps/node' });
    const inv = { file: '/x/bin/build', args: ['a'], cwd: '/tmp/b/app', env: { A: '1' } };
    expect(NO_ISOLATION.wrap(inv, dirs)).toBe(inv);
  });

  it('bwrap: binds every host top-level entry, fresh /proc and /dev, then the build’s dirs; chdir inside', () => {
    expect(bwrapArgs(root, buildMounts(dirs), command)).toEqual([
      '--symlink', 'usr/bin', '/bin',
      '--bind', '/etc', '/etc',
      '--bind', '/info.json', '/info.json',
      '--bind', '/usr', '/usr',
      '--proc', '/proc', '--dev', '/dev',
      '--bind', '/tmp/b/app', '/workspace',
      '--bind', '/tmp/b/layers', '/layers',
      '--bind', '/tmp/b/platform', '/platform',
      '--bind', '/opt/bps/node', '/cnb/buildpacks/acme_node/1.2.0',
      '--chdir', '/workspace', '--unshare-pid', '--die-with-parent', '--new-session',
      '--', command.file, '/layers/acme_node',
    ]);
  });

  it('unshare: a user namespace only when not root; setup ops then -- cwd command', () => {
    const opts = { scratchDir: '/tmp/lading-isolation-1000', root: false };
    const args = unshareArgs(root.slice(0, 2), buildMounts({ appDir: '/a' }), command, opts);
    expect(args.slice(0, 5)).toEqual(['--user', '--map-root-user', '--mount', '--', '/bin/sh']);
    expect(args.slice(7)).toEqual([
      'lading-isolation', '/tmp/lading-isolation-1000',
      'link', 'usr/bin', '/bin', 'dir', '/etc', '/etc', 'dir', '/proc', '/proc', 'dir', '/dev', '/dev', 'dir', '/a', '/workspace',
      '--', '/workspace', command.file, '/layers/acme_node',
    ]);
    expect(unshareArgs(root, [], command, { ...opts, root: true }).slice(0, 2)).toEqual(['--mount', '--']);
  });

  it('a wrapped invocation starts at / on the host and keeps the env as given', () => {
    const iso = namespaceIsolation({ mechanism: 'bwrap', tool: '/usr/bin/bwrap', root });
    const wrapped = iso.wrap({ ...command, args: [...command.args], env: { CNB_LAYERS_DIR: '/layers/acme_node' } }, dirs);
    expect(wrapped.file).toBe('/usr/bin/bwrap');
    expect(wrapped.cwd).toBe('/');
    expect(wrapped.env).toEqual({ CNB_LAYERS_DIR: '/layers/acme_node' });
  });

  it('the host root listing skips /proc, /dev and the replaced names and keeps symlinks as links', async () => {
    const fake = await mkdtemp(join(tmpdir(), 'lading-root-'));
    made.push(fake);
    for (const d of ['usr', 'etc', 'proc', 'dev', 'workspace', 'layers', 'cnb', 'platform']) await mkdir(join(fake, d));
    await symlink('usr/lib', join(fake, 'lib'));
    await writeFile(join(fake, 'info.json'), '{}');
    expect(readHostRoot(fake)).toEqual([
      { path: '/etc', kind: 'dir' },
      { path: '/info.json', kind: 'file' },
      { path: '/lib', kind: 'link', target: 'usr/lib' },
      { path: '/usr', kind: 'dir' },
    ]);
  });
});
