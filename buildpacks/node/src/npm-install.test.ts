import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildScripts, dependencyKey, localTarballs } from './npm-install.js';
import { readProject } from './project.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('build scripts', () => {
  it('BP_NODE_RUN_SCRIPTS (comma-separated) wins; else `build` when defined; else none', () => {
    const scripts = { build: 'tsc', lint: 'eslint .', start: 'node a.js' };
    expect(buildScripts(scripts, 'lint, build', 'package.json')).toEqual(['lint', 'build']);
    expect(buildScripts(scripts, undefined, 'package.json')).toEqual(['build']);
    expect(buildScripts(scripts, '  ', 'package.json')).toEqual(['build']);
    expect(buildScripts({ start: 'node a.js' }, undefined, 'package.json')).toEqual([]);
  });

  it('a script BP_NODE_RUN_SCRIPTS names but package.json lacks is an error naming both', () => {
    expect(() => buildScripts({ build: 'tsc' }, 'build,test', '/workspace/package.json')).toThrow('BP_NODE_RUN_SCRIPTS names "test", which /workspace/package.json does not define in "scripts"');
  });
});

describe('the dependency key (what node_modules is reused by)', () => {
  async function key(pkg: object, lock?: string, npmrc?: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'lading-node-key-'));
    dirs.push(dir);
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
    if (lock !== undefined) await writeFile(join(dir, 'package-lock.json'), lock);
    if (npmrc !== undefined) await writeFile(join(dir, '.npmrc'), npmrc);
    return dependencyKey(await readProject(dir));
  }

  it('ignores scripts, main and version; follows dependencies, the lockfile and the project .npmrc', async () => {
    const base = await key({ name: 'a', dependencies: { x: '^1' } }, '{"v":1}');
    expect(await key({ name: 'a', version: '2.0.0', main: 'b.js', scripts: { build: 'tsc' }, dependencies: { x: '^1' } }, '{"v":1}')).toBe(base);
    expect(await key({ name: 'a', dependencies: { x: '^2' } }, '{"v":1}')).not.toBe(base);
    expect(await key({ name: 'a', dependencies: { x: '^1' } }, '{"v":2}')).not.toBe(base);
    expect(await key({ name: 'a', dependencies: { x: '^1' }, overrides: { y: '1.0.0' } }, '{"v":1}')).not.toBe(base);
    expect(await key({ name: 'a', dependencies: { x: '^1' } }, '{"v":1}', 'omit=optional\n')).not.toBe(base);
    expect(await key({ name: 'a', dependencies: { x: '^1' } })).not.toBe(base);
  });

  it('in a workspace, follows each member\'s dependency fields too (not its scripts)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-node-key-'));
    dirs.push(dir);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ workspaces: ['packages/*'] }));
    await writeFile(join(dir, 'package-lock.json'), '{"v":1}');
    const member = async (pkg: object) => {
      await mkdir(join(dir, 'packages', 'web'), { recursive: true });
      await writeFile(join(dir, 'packages', 'web', 'package.json'), JSON.stringify(pkg));
      return dependencyKey(await readProject(dir), ['packages/web']);
    };
    const base = await member({ name: 'web', dependencies: { x: '^1' } });
    expect(await member({ name: 'web', scripts: { build: 'tsc' }, dependencies: { x: '^1' } })).toBe(base);
    expect(await member({ name: 'web', dependencies: { x: '^2' } })).not.toBe(base);
    expect(await member({ name: 'web', dependencies: { x: '^1' }, devDependencies: { y: '^1' } })).not.toBe(base);
    expect(await dependencyKey(await readProject(dir))).not.toBe(base);
  });
});

describe('the environment npm runs with', () => {
  it('keeps the forwarded npm configuration and CA, puts the runtime first on PATH, the cache in its layer', async () => {
    const { npmEnv } = await import('./npm-install.js');
    const ctx = { env: { PATH: '/usr/bin', NPM_CONFIG_USERCONFIG: '/root/.npmrc', NPM_CONFIG_GLOBALCONFIG: '/usr/etc/npmrc', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' } };
    const runtime = { layer: { path: '/layers/lading_nodejs/node' } };
    const env = npmEnv(ctx as never, runtime as never, '/layers/lading_nodejs/npm-cache', '/layers/lading_nodejs/node-headers');
    expect(env).toMatchObject({
      PATH: '/layers/lading_nodejs/node/bin:/usr/bin',
      NPM_CONFIG_USERCONFIG: '/root/.npmrc',
      NPM_CONFIG_GLOBALCONFIG: '/usr/etc/npmrc',
      NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
      npm_config_cache: '/layers/lading_nodejs/npm-cache',
      npm_config_nodedir: '/layers/lading_nodejs/node-headers',
    });
    expect(env['npm_config_logs_dir']).not.toContain('/layers/'); // logs stay out of the cache layer
    expect(npmEnv(ctx as never, runtime as never, '/c')).not.toHaveProperty('npm_config_nodedir');
  });
});

describe('local tarball dependencies', () => {
  it('are found in package.json and the lockfile, relative to the project, once each', () => {
    const lock = JSON.stringify({ packages: { '': {}, 'node_modules/a': { resolved: 'file:vendor/a-1.0.0.tgz' }, 'node_modules/b': { resolved: 'https://r.test/b/-/b-1.0.0.tgz' } } });
    expect(localTarballs({ dependencies: { a: 'file:vendor/a-1.0.0.tgz', c: 'file:./c.tar.gz', d: 'file:../sibling', e: '^1.0.0' } }, lock, '/w/package-lock.json')).toEqual(['c.tar.gz', 'vendor/a-1.0.0.tgz']);
  });

  it('outside the project directory are refused, naming the file', () => {
    expect(() => localTarballs({ dependencies: { a: 'file:../a-1.0.0.tgz' } }, undefined, '/w/package.json')).toThrow('/w/package.json: the local tarball "file:../a-1.0.0.tgz" is outside the project directory');
  });
});
