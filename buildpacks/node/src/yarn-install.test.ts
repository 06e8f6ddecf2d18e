import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MemberManifest } from './workspaces.js';
import { berryEnv, stagedRootManifest, yarnFlavor, yarnrcSetting, yarnVersionRequest, yarnWorkspacePlan } from './yarn-install.js';

describe('yarn version and flavour', () => {
  it('BP_YARN_VERSION > packageManager > a default by the lockfile format', () => {
    expect(yarnVersionRequest('1.22', '4.5.0', undefined)).toEqual({ constraint: '1.22', source: 'BP_YARN_VERSION' });
    expect(yarnVersionRequest(undefined, '4.5.0', undefined)).toEqual({ constraint: '4.5.0', source: 'package.json packageManager' });
    expect(yarnVersionRequest(undefined, undefined, '# yarn lockfile v1\n').constraint).toBe('1');
    expect(yarnVersionRequest(undefined, undefined, '__metadata:\n  version: 8\n').constraint).toBe('4');
    expect(yarnVersionRequest(undefined, undefined, undefined).constraint).toBe('1');
  });

  it('1.x is classic, 4+ is berry, 2 and 3 are refused with the reason', () => {
    expect(yarnFlavor({ constraint: '1.22.22', source: 's' })).toBe('classic');
    expect(yarnFlavor({ constraint: '^1', source: 's' })).toBe('classic');
    expect(yarnFlavor({ constraint: '4.5.0', source: 's' })).toBe('berry');
    expect(() => yarnFlavor({ constraint: '3.6.4', source: 'package.json packageManager' })).toThrow(/yarn 3\.6\.4 \(from package\.json packageManager\) is not supported: use yarn 1 \(classic\) or yarn 4/);
    expect(() => yarnFlavor({ constraint: 'banana', source: 'BP_YARN_VERSION' })).toThrow('yarn version "banana" (from BP_YARN_VERSION) is not a valid version or range');
  });

  it('reads top-level .yarnrc.yml settings, quoted or not', () => {
    const rc = 'nodeLinker: "node-modules"\nnpmRegistryServer: \'http://r.test\'\nnpmScopes:\n  corp:\n    npmRegistryServer: "x"\n';
    expect(yarnrcSetting(rc, 'nodeLinker')).toBe('node-modules');
    expect(yarnrcSetting(rc, 'npmRegistryServer')).toBe('http://r.test');
    expect(yarnrcSetting(rc, 'httpsCaFilePath')).toBeUndefined();
  });
});

describe('berry settings from the user npm configuration', () => {
  const project = (dir: string) => ({ dir, hasYarnLock: true, hasPnpmLock: false });
  const ctxWith = (env: Record<string, string>) => ({ env }) as unknown as Parameters<typeof berryEnv>[0];

  it('passes the npm registry, token, cafile and strict-ssl as YARN_* when .yarnrc.yml names no registry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-berry-env-'));
    try {
      await writeFile(join(dir, 'user.npmrc'), 'registry=http://r.test/npm/\n//r.test/npm/:_authToken=tok\ncafile=/etc/ca.pem\nstrict-ssl=false\n');
      const env = await berryEnv(ctxWith({ NPM_CONFIG_USERCONFIG: join(dir, 'user.npmrc'), NPM_CONFIG_GLOBALCONFIG: join(dir, 'none') }), project(dir), '', join(dir, 'cache'));
      expect(env).toMatchObject({ YARN_NPM_REGISTRY_SERVER: 'http://r.test/npm', YARN_NPM_AUTH_TOKEN: 'tok', YARN_HTTPS_CA_FILE_PATH: '/etc/ca.pem', YARN_ENABLE_STRICT_SSL: 'false', YARN_NODE_LINKER: 'node-modules', YARN_IGNORE_PATH: '1' });
      // yarn's own registry setting wins: nothing of npm's is passed.
      const own = await berryEnv(ctxWith({ NPM_CONFIG_USERCONFIG: join(dir, 'user.npmrc') }), project(dir), 'npmRegistryServer: "http://own.test"\n', join(dir, 'cache'));
      expect(own['YARN_NPM_REGISTRY_SERVER']).toBeUndefined();
      expect(own['YARN_NPM_AUTH_TOKEN']).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a linker other than node-modules, naming .yarnrc.yml', async () => {
    await expect(berryEnv(ctxWith({}), project('/workspace'), 'nodeLinker: pnp\n', '/cache')).rejects.toThrow('/workspace/.yarnrc.yml: nodeLinker "pnp" is not supported; this buildpack installs with the node-modules linker');
  });
});

describe('yarn workspaces: what the production install stages and runs', () => {
  const m = (name: string | undefined, deps: Record<string, string> = {}): MemberManifest => ({ ...(name ? { name } : {}), version: '1.0.0', dependencies: deps, optionalDependencies: {}, devDependencies: {} });
  const manifests = new Map<string, MemberManifest>([['packages/api', m('@demo/api', { '@demo/lib': '1.0.0' })], ['packages/lib', m('@demo/lib')], ['packages/worker', m('@demo/worker', { x: '^1' })], ['packages/anon', m(undefined)]]);
  const members = [...manifests.keys()].sort();

  it('classic: the selected member and the members it depends on; the root package.json narrowed to them, without its own dependencies', () => {
    const plan = yarnWorkspacePlan('classic', 'packages/api', members, manifests, '/w/packages/api/package.json');
    expect(plan).toEqual({ selected: 'packages/api', prodMembers: ['packages/api', 'packages/lib'] });
    const root = { name: 'root', private: true, workspaces: ['packages/*'], scripts: { build: 'x' }, dependencies: { shared: '^1' }, devDependencies: { typescript: '^5' }, resolutions: { ms: '2.1.3' } };
    expect(stagedRootManifest(root, 'classic', plan, true)).toEqual({ name: 'root', private: true, workspaces: ['packages/api', 'packages/lib'], devDependencies: { typescript: '^5' }, resolutions: { ms: '2.1.3' } });
    // The object form keeps nohoist; the build-time install stages the whole workspace as it is.
    expect(stagedRootManifest({ workspaces: { packages: ['packages/*'], nohoist: ['**/x'] } }, 'classic', plan, true)).toEqual({ workspaces: { packages: ['packages/api', 'packages/lib'], nohoist: ['**/x'] } });
    const { scripts: _scripts, ...withoutScripts } = root;
    expect(stagedRootManifest(root, 'classic', plan, false)).toEqual(withoutScripts);
  });

  it('berry: every member staged, the selected one focused by name; a member without a name is refused', () => {
    expect(yarnWorkspacePlan('berry', 'packages/api', members, manifests, 'f')).toEqual({ selected: 'packages/api', prodMembers: members, focus: '@demo/api' });
    expect(() => yarnWorkspacePlan('berry', 'packages/anon', members, manifests, '/w/packages/anon/package.json')).toThrow('/w/packages/anon/package.json has no "name": yarn selects a workspace member by its name (yarn workspaces focus <name>)');
  });

  it('the workspace root itself: every member, nothing narrowed', () => {
    const plan = yarnWorkspacePlan('classic', '', members, manifests, 'f');
    expect(plan).toEqual({ selected: '', prodMembers: members });
    expect(stagedRootManifest({ workspaces: ['packages/*'], dependencies: { a: '1' } }, 'classic', plan, true)).toEqual({ workspaces: ['packages/*'], dependencies: { a: '1' } });
  });
});
