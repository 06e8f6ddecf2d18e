import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { inlineBuildpackDir, withPrePost } from './project-buildpacks.js';
import { readBuildpackDescriptor } from '../../buildpack/index.js';

const root = mkdtempSync(join(tmpdir(), 'lading-inline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const entry = (id: string, optional = false) => ({ id, optional });

describe('project-descriptor.md: io.buildpacks.pre.group / post.group', () => {
  it('inserts pre at the beginning and post at the end of every group, not repeating a member', () => {
    const order = [[entry('a'), entry('b')], [entry('c'), entry('post/x')]];
    expect(withPrePost(order, [entry('pre/x')], [entry('post/x')])).toEqual([
      [entry('pre/x'), entry('a'), entry('b'), entry('post/x')],
      [entry('pre/x'), entry('c'), entry('post/x')],
    ]);
    expect(withPrePost(order, [], [])).toBe(order);
  });
});

describe('project-descriptor.md: inline buildpacks (script)', () => {
  const ref = { id: 'me/post-build', script: { api: '0.10', shell: '/bin/sh', inline: 'echo inline-ran > ran.txt' } };

  it('makes a buildpack whose detect passes and whose build runs the script in the working dir', async () => {
    const dir = await inlineBuildpackDir(ref, root);
    const bp = await readBuildpackDescriptor(dir);
    expect(bp.info.id).toBe('me/post-build');
    expect(bp.api).toBe('0.10');
    execFileSync(join(dir, 'bin', 'detect'));
    const app = mkdtempSync(join(root, 'app-'));
    execFileSync(join(dir, 'bin', 'build'), { cwd: app });
    expect(readFileSync(join(app, 'ran.txt'), 'utf8')).toBe('inline-ran\n');
  });

  it('is content-addressed: the same script gives the same directory, another script another one', async () => {
    const a = await inlineBuildpackDir(ref, root);
    const mtime = statSync(join(a, 'buildpack.toml')).mtimeMs;
    expect(await inlineBuildpackDir(ref, root)).toBe(a);
    expect(statSync(join(a, 'buildpack.toml')).mtimeMs).toBe(mtime);
    const b = await inlineBuildpackDir({ ...ref, script: { ...ref.script, inline: 'true' } }, root);
    expect(b).not.toBe(a);
    const both = await Promise.all([1, 2, 3].map(() => inlineBuildpackDir({ ...ref, id: 'me/concurrent' }, root)));
    expect(new Set(both).size).toBe(1);
  });

  it('a failing script fails the build (set -e)', async () => {
    const dir = await inlineBuildpackDir({ id: 'me/fails', script: { api: '0.10', shell: '/bin/sh', inline: 'false\necho not-reached' } }, root);
    expect(() => execFileSync(join(dir, 'bin', 'build'), { stdio: 'pipe' })).toThrow();
  });
});
