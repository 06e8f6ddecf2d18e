import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installedPackages, lockfileClosure, lockfileComponents, nameFromLockPath, platformAllows } from './package-sbom.js';

const integrity = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
const lock = JSON.stringify({
  lockfileVersion: 3,
  packages: {
    '': { name: 'app', dependencies: { express: '^4' } },
    'node_modules/express': { version: '4.21.2', integrity, license: 'MIT' },
    'node_modules/@scope/odd': { version: '1.0.0', license: 'SEE LICENSE IN LICENSE.md' },
    'node_modules/express/node_modules/debug': { version: '2.6.9', license: { type: 'MIT' } },
    'node_modules/typescript': { version: '5.7.2', dev: true, license: 'Apache-2.0' },
    'node_modules/fsevents': { version: '2.3.3', optional: true, os: ['darwin'] },
    'node_modules/@esbuild/linux-x64': { version: '0.24.0', optional: true, os: ['linux'], cpu: ['x64'] },
    'node_modules/@esbuild/linux-arm64': { version: '0.24.0', optional: true, os: ['linux'], cpu: ['arm64'] },
    'packages/lib': { name: 'lib', version: '0.0.1' },
    'node_modules/lib': { resolved: 'packages/lib', link: true },
  },
});

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('SBOM of installed npm packages', () => {
  it('from a lockfile: production packages for this platform, purl, licence as declared, sha512 in hex', () => {
    const c = lockfileComponents(lock, 'package-lock.json', { omitDev: true, arch: 'x64' });
    expect(c.map((x) => `${x.name}@${x.version}`).sort()).toEqual(['@esbuild/linux-x64@0.24.0', '@scope/odd@1.0.0', 'debug@2.6.9', 'express@4.21.2']);
    const express = c.find((x) => x.name === 'express')!;
    expect(express).toEqual({ name: 'express', version: '4.21.2', purl: 'pkg:npm/express@4.21.2', licenses: ['MIT'], hashes: { sha512: '01'.repeat(64) } });
    expect(c.find((x) => x.name === '@scope/odd')).toMatchObject({ purl: 'pkg:npm/%40scope/odd@1.0.0', licenses: ['SEE LICENSE IN LICENSE.md'] });
    expect(c.find((x) => x.name === 'debug')?.licenses).toEqual(['MIT']);
  });

  it('keeps dev dependencies when they are installed', () => {
    const c = lockfileComponents(lock, 'package-lock.json', { omitDev: false, arch: 'arm64' });
    expect(c.map((x) => x.name)).toEqual(expect.arrayContaining(['typescript', '@esbuild/linux-arm64']));
    expect(c.map((x) => x.name)).not.toContain('@esbuild/linux-x64');
  });

  it('reads lockfile v1 nested dependencies', () => {
    const v1 = JSON.stringify({ lockfileVersion: 1, dependencies: { a: { version: '1.0.0', integrity, dependencies: { b: { version: '2.0.0' } } }, c: { version: '3.0.0', dev: true } } });
    expect(lockfileComponents(v1, 'package-lock.json', { omitDev: true, arch: 'x64' }).map((x) => `${x.name}@${x.version}`)).toEqual(['a@1.0.0', 'b@2.0.0']);
  });

  it('a malformed lockfile names the file', () => {
    expect(() => lockfileComponents('{', '/workspace/package-lock.json', { omitDev: true, arch: 'x64' })).toThrow(/^\/workspace\/package-lock\.json is not valid JSON/);
  });

  it('from node_modules without a hidden lockfile: every package.json, scoped and nested', async () => {
    const nm = await mkdtemp(join(tmpdir(), 'lading-node-sbom-'));
    dirs.push(nm);
    const put = async (rel: string, pkg: object) => {
      await mkdir(join(nm, rel), { recursive: true });
      await writeFile(join(nm, rel, 'package.json'), JSON.stringify(pkg));
    };
    await put('a', { name: 'a', version: '1.0.0', license: 'ISC' });
    await put('@s/b', { name: '@s/b', version: '2.0.0', licenses: [{ type: 'MIT' }] });
    await put('a/node_modules/c', { name: 'c', version: '3.0.0' });
    const c = await installedPackages(nm);
    expect(c).toEqual([
      { name: '@s/b', version: '2.0.0', purl: 'pkg:npm/%40s/b@2.0.0', licenses: ['MIT'] },
      { name: 'a', version: '1.0.0', purl: 'pkg:npm/a@1.0.0', licenses: ['ISC'] },
      { name: 'c', version: '3.0.0', purl: 'pkg:npm/c@3.0.0', licenses: [] },
    ]);
  });

  it('helpers: lock paths and npm os/cpu lists', () => {
    expect(nameFromLockPath('node_modules/a/node_modules/@s/b')).toBe('@s/b');
    expect(platformAllows(undefined, 'linux')).toBe(true);
    expect(platformAllows(['!win32'], 'linux')).toBe(true);
    expect(platformAllows(['darwin', 'win32'], 'linux')).toBe(false);
    expect(platformAllows(['!linux'], 'linux')).toBe(false);
  });
});

describe('one npm workspace member (npm ci --workspace): the lockfile closure', () => {
  // Root deps (root-only), a member the selected one does not use (worker), a member reached through another
  // (web -> lib -> util), a member-local copy shadowing the hoisted one, platform packages and peers.
  const ws = {
    '': { name: 'root', workspaces: ['packages/*'], dependencies: { 'root-only': '^1' } },
    'node_modules/root-only': { version: '1.0.0' },
    'node_modules/@demo/web': { resolved: 'packages/web', link: true },
    'node_modules/@demo/lib': { resolved: 'packages/lib', link: true },
    'node_modules/@demo/util': { resolved: 'packages/util', link: true },
    'node_modules/@demo/worker': { resolved: 'packages/worker', link: true },
    'packages/web': { name: '@demo/web', version: '1.0.0', dependencies: { '@demo/lib': '1.0.0', a: '^2', plugin: '^1' }, optionalDependencies: { 'fs-mac': '^1', 'fs-linux': '^1' }, devDependencies: { tsc: '^5' } },
    'packages/web/node_modules/a': { version: '2.0.0', dependencies: { b: '^1' } },
    'node_modules/a': { version: '1.0.0', dev: true },
    'node_modules/b': { version: '1.0.0' },
    'node_modules/plugin': { version: '1.0.0', peerDependencies: { host: '^1', 'maybe-peer': '^1' }, peerDependenciesMeta: { 'maybe-peer': { optional: true } } },
    'node_modules/host': { version: '1.0.0', peer: true },
    'node_modules/maybe-peer': { version: '1.0.0', dev: true },
    'node_modules/fs-mac': { version: '1.0.0', optional: true, os: ['darwin'] },
    'node_modules/fs-linux': { version: '1.0.0', optional: true, os: ['linux'], dependencies: { c: '^1' } },
    'node_modules/fs-linux/node_modules/c': { version: '1.0.0', optional: true },
    'node_modules/tsc': { version: '5.0.0', dev: true, dependencies: { a: '^1' } },
    'packages/lib': { name: '@demo/lib', version: '1.0.0', dependencies: { '@demo/util': '*', d: '^1' }, devDependencies: { 'lib-dev': '^1' } },
    'node_modules/d': { version: '1.0.0' },
    'node_modules/lib-dev': { version: '1.0.0', dev: true },
    'packages/util': { name: '@demo/util', version: '1.0.0' },
    'packages/worker': { name: '@demo/worker', version: '1.0.0', dependencies: { e: '^1' } },
    'node_modules/e': { version: '1.0.0' },
  };
  const names = (c: { name: string; version: string }[]) => c.map((x) => `${x.name}@${x.version}`).sort();

  it('the member, what it reaches through dependencies, optional ones for this platform, required peers and linked members; never the root\'s or an unrelated member\'s', () => {
    const c = lockfileComponents(JSON.stringify({ lockfileVersion: 3, packages: ws }), 'package-lock.json', { omitDev: true, arch: 'x64', member: 'packages/web' });
    expect(names(c)).toEqual(['a@2.0.0', 'b@1.0.0', 'c@1.0.0', 'd@1.0.0', 'fs-linux@1.0.0', 'host@1.0.0', 'plugin@1.0.0']);
    expect([...lockfileClosure(ws, 'packages/web', { omitDev: true, arch: 'x64' })].filter((k) => !k.includes('node_modules')).sort()).toEqual(['packages/lib', 'packages/util', 'packages/web']);
  });

  it('with dev dependencies: the selected member\'s own, not those of the members it uses', () => {
    const c = lockfileComponents(JSON.stringify({ lockfileVersion: 3, packages: ws }), 'package-lock.json', { omitDev: false, arch: 'x64', member: 'packages/web' });
    expect(names(c)).toEqual(['a@1.0.0', 'a@2.0.0', 'b@1.0.0', 'c@1.0.0', 'd@1.0.0', 'fs-linux@1.0.0', 'host@1.0.0', 'plugin@1.0.0', 'tsc@5.0.0']);
  });

  it('the node-workspace fixture: packages/web gets debug, ms and lib\'s is-number, not the worker\'s escape-html nor its own is-odd', () => {
    const file = join(resolve(import.meta.dirname, '../../..'), 'test/fixtures/apps/node-workspace/package-lock.json');
    const c = lockfileComponents(readFileSync(file, 'utf8'), file, { omitDev: true, arch: 'x64', member: 'packages/web' });
    expect(names(c)).toEqual(['debug@4.4.3', 'is-number@7.0.0', 'ms@2.1.3']);
    expect(names(lockfileComponents(readFileSync(file, 'utf8'), file, { omitDev: true, arch: 'x64' }))).toEqual(['debug@4.4.3', 'escape-html@1.0.3', 'is-number@7.0.0', 'ms@2.1.3']);
  });

  it('a member the lockfile does not describe (or a v1 lockfile) is refused naming the file', () => {
    expect(() => lockfileComponents(JSON.stringify({ lockfileVersion: 1, dependencies: {} }), '/w/package-lock.json', { omitDev: true, arch: 'x64', member: 'packages/web' })).toThrow('/w/package-lock.json has no entry for the workspace member packages/web');
  });
});
