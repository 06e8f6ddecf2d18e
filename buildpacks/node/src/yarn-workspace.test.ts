import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readProject } from './project.js';
import { berryLockWorkspaces, expandWorkspacePatterns, workspacePatterns, yarnWorkspaceMembers } from './yarn-workspace.js';

const FIXTURES = join(resolve(import.meta.dirname, '../../..'), 'test/fixtures/apps');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tree(files: string[]): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lading-yarn-ws-'));
  dirs.push(d);
  for (const f of files) {
    await mkdir(join(d, f, '..'), { recursive: true });
    await writeFile(join(d, f), '{}');
  }
  return d;
}

describe('yarn workspace patterns', () => {
  it('reads the array form and the { packages, nohoist } form; anything else names the file', () => {
    expect(workspacePatterns(['packages/*'], '/w/package.json')).toEqual(['packages/*']);
    expect(workspacePatterns({ packages: ['apps/*'], nohoist: ['**/x'] }, '/w/package.json')).toEqual(['apps/*']);
    expect(workspacePatterns({ nohoist: [] }, '/w/package.json')).toEqual([]);
    expect(() => workspacePatterns('packages/*', '/w/package.json')).toThrow('/w/package.json: "workspaces" must be an array of directory patterns');
    expect(() => workspacePatterns([1], '/w/package.json')).toThrow('/w/package.json: "workspaces" must be an array');
  });

  it('expands *, ?, [..] and ** to directories with a package.json, never into node_modules or hidden dirs; ! leaves matches out', async () => {
    const root = await tree([
      'packages/a/package.json', 'packages/b/package.json', 'packages/no-manifest/readme.md', 'packages/a/node_modules/x/package.json',
      'apps/web/package.json', 'apps/deep/nested/api/package.json', 'apps/.hidden/package.json', 'tools/t1/package.json', 'tools/t2/package.json', 'exact/package.json',
    ]);
    expect(await expandWorkspacePatterns(root, ['packages/*'], 'pkg')).toEqual(['packages/a', 'packages/b']);
    expect(await expandWorkspacePatterns(root, ['apps/**'], 'pkg')).toEqual(['apps/deep/nested/api', 'apps/web']);
    expect(await expandWorkspacePatterns(root, ['./tools/t?', '!tools/t2', 'exact/'], 'pkg')).toEqual(['exact', 'tools/t1']);
    expect(await expandWorkspacePatterns(root, ['tools/t[1]'], 'pkg')).toEqual(['tools/t1']);
    expect(await expandWorkspacePatterns(root, ['missing/*'], 'pkg')).toEqual([]);
    await expect(expandWorkspacePatterns(root, ['../elsewhere/*'], '/w/package.json')).rejects.toThrow('/w/package.json: workspace pattern "../elsewhere/*" leaves the workspace root');
  });
});

describe('yarn workspace members', () => {
  it('berry: from the lockfile\'s workspace resolutions, the root left out', () => {
    const file = join(FIXTURES, 'node-yarn-berry-workspace', 'yarn.lock');
    expect(berryLockWorkspaces(readFileSync(file, 'utf8'), file)).toEqual({ 'packages/api': '@demo/api', 'packages/lib': '@demo/lib', 'packages/worker': '@demo/worker' });
    expect(() => berryLockWorkspaces('__metadata:\n  version: 8\n\n"x@workspace:../out":\n  resolution: "x@workspace:../out"\n', '/w/yarn.lock')).toThrow('/w/yarn.lock: workspace "x" at "../out" leaves the workspace root');
  });

  it('classic: package.json "workspaces" expanded; berry: the lockfile; a root without workspaces has none', async () => {
    expect(await yarnWorkspaceMembers(await readProject(join(FIXTURES, 'node-yarn-workspace')))).toEqual(['packages/api', 'packages/lib', 'packages/worker']);
    expect(await yarnWorkspaceMembers(await readProject(join(FIXTURES, 'node-yarn-berry-workspace')))).toEqual(['packages/api', 'packages/lib', 'packages/worker']);
    expect(await yarnWorkspaceMembers(await readProject(join(FIXTURES, 'node-yarn-classic')))).toEqual([]);
  });
});
