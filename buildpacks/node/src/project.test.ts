import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasDependencies, parsePackageJson, projectDir, readProject } from './project.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function app(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lading-node-project-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe('package.json', () => {
  it('reads the fields the buildpack uses', () => {
    const pkg = parsePackageJson(JSON.stringify({ name: 'a', main: 'x.js', scripts: { start: 'node x.js' }, engines: { node: '20.x' }, dependencies: { express: '^4' }, packageManager: 'npm@10.9.0' }), 'package.json');
    expect(pkg).toMatchObject({ name: 'a', main: 'x.js', scripts: { start: 'node x.js' }, engines: { node: '20.x' }, dependencies: { express: '^4' }, devDependencies: {}, packageManager: 'npm@10.9.0' });
    expect(hasDependencies(pkg)).toBe(true);
    expect(hasDependencies(parsePackageJson('{}', 'package.json'))).toBe(false);
  });

  it('malformed JSON names the file and the position', () => {
    expect(() => parsePackageJson('{ "name": ', '/workspace/package.json')).toThrow(/^\/workspace\/package\.json is not valid JSON: /);
  });

  it('wrong types name the file and the field', () => {
    expect(() => parsePackageJson('[]', 'p.json')).toThrow('p.json must hold a JSON object');
    expect(() => parsePackageJson('{"scripts": {"start": 1}}', 'p.json')).toThrow('p.json: "scripts.start" must be a string');
    expect(() => parsePackageJson('{"engines": {"node": 20}}', 'p.json')).toThrow('p.json: "engines.node" must be a string');
    expect(() => parsePackageJson('{"dependencies": "express"}', 'p.json')).toThrow('p.json: "dependencies" must be an object of strings');
  });
});

describe('the project directory', () => {
  it('is the app dir, or BP_NODE_PROJECT_PATH inside it', () => {
    expect(projectDir('/workspace', undefined)).toBe('/workspace');
    expect(projectDir('/workspace', ' ')).toBe('/workspace');
    expect(projectDir('/workspace', 'apps/web/')).toBe('/workspace/apps/web');
  });

  it('refuses paths leaving the app dir', () => {
    expect(() => projectDir('/workspace', '../etc')).toThrow('BP_NODE_PROJECT_PATH="../etc" must be a relative path inside the app directory');
    expect(() => projectDir('/workspace', '/etc')).toThrow(/must be a relative path/);
  });

  it('collects version files, the npm lockfile (shrinkwrap first), other lockfiles and the Procfile', async () => {
    const dir = await app({ 'package.json': '{}', '.nvmrc': '18\n', '.node-version': '20\n', 'package-lock.json': '{}', 'npm-shrinkwrap.json': '{}', 'yarn.lock': '', Procfile: 'web: node a.js\n' });
    const p = await readProject(dir);
    expect(p).toMatchObject({ dir, nvmrc: '18\n', nodeVersionFile: '20\n', npmLockfile: join(dir, 'npm-shrinkwrap.json'), hasYarnLock: true, hasPnpmLock: false, procfile: 'web: node a.js\n' });
    expect(p.packageJson).toBeDefined();
  });

  it('a script-only app has no package.json', async () => {
    const p = await readProject(await app({ 'server.js': '' }));
    expect(p.packageJson).toBeUndefined();
    expect(p.npmLockfile).toBeUndefined();
  });
});
