import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger, type DetectContext } from '../../lib/index.js';
import { detect, packageManager } from './main.js';
import type { NodeProject } from './project.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function detectIn(files: string[], config: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'lading-node-detect-'));
  dirs.push(dir);
  for (const f of files) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), '{}');
  }
  const ctx = { appDir: dir, config: (n: string) => config[n], logger: new Logger({ stdout: { write: () => {} }, stderr: { write: () => {} } }) } as unknown as DetectContext;
  return { dir, result: await detect(ctx) };
}

describe('detect', () => {
  it('passes with package.json or a script-only app, providing and requiring node', async () => {
    for (const f of ['package.json', 'server.js', 'app.js', 'index.js']) {
      const { result } = await detectIn([f]);
      expect(result).toEqual({ pass: true, plan: { provides: [{ name: 'node' }], requires: [{ name: 'node', metadata: { build: true, launch: true } }] } });
    }
  });

  it('fails elsewhere, saying what it looked for', async () => {
    const { dir, result } = await detectIn(['main.go']);
    expect(result).toEqual({ pass: false, reason: `no package.json, server.js, app.js, index.js in ${dir}` });
  });

  it('looks in BP_NODE_PROJECT_PATH', async () => {
    expect((await detectIn(['apps/web/package.json'], { BP_NODE_PROJECT_PATH: 'apps/web' })).result.pass).toBe(true);
    expect((await detectIn(['apps/web/package.json'])).result.pass).toBe(false);
  });
});

describe('package manager', () => {
  const project = (p: Partial<NodeProject>, pm?: string): NodeProject => ({
    dir: '/workspace', hasYarnLock: false, hasPnpmLock: false, ...p,
    packageJson: { scripts: {}, engines: {}, dependencies: {}, devDependencies: {}, ...(pm ? { packageManager: pm } : {}) },
  });

  it('npm, optionally pinned by packageManager (with or without a hash)', () => {
    expect(packageManager(project({}))).toEqual({ name: 'npm' });
    expect(packageManager(project({}, 'npm@10.9.0+sha512.abc'))).toEqual({ name: 'npm', version: '10.9.0' });
  });

  it('refuses an unknown packageManager, naming the file and the value', () => {
    expect(() => packageManager(project({}, 'bun@1.1.0'))).toThrow('/workspace/package.json: "packageManager": "bun@1.1.0" is not one of npm@<version>, yarn@<version>, pnpm@<version>');
  });

  it('pnpm through packageManager or pnpm-lock.yaml', () => {
    expect(packageManager(project({}, 'pnpm@10.34.8'))).toEqual({ name: 'pnpm', version: '10.34.8' });
    expect(packageManager(project({ hasPnpmLock: true }))).toEqual({ name: 'pnpm' });
  });

  it('yarn through packageManager or yarn.lock; an npm lockfile wins over yarn.lock', () => {
    expect(packageManager(project({}, 'yarn@4.5.0'))).toEqual({ name: 'yarn', version: '4.5.0' });
    expect(packageManager(project({ hasYarnLock: true }))).toEqual({ name: 'yarn' });
    expect(packageManager(project({ hasYarnLock: true, npmLockfile: '/workspace/package-lock.json' }))).toEqual({ name: 'npm' });
  });
});
