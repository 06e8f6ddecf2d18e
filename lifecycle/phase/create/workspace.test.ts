import { afterEach, describe, expect, it } from 'vitest';
import { readdir, readlink, stat, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { tempTrees } from '../../../test/support/temp-tree.js';
import { compilePatterns, copyAppDir } from './workspace.js';

const trees = tempTrees('lading-workspace-');
afterEach(() => trees.cleanup());

async function listTree(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    out.push(relative(base, p) + (e.isDirectory() ? '/' : ''));
    if (e.isDirectory()) out.push(...(await listTree(p, base)));
  }
  return out;
}

const APP = {
  'main.go': 'package main',
  'go.mod': 'module x',
  'app.log': 'noise',
  'docs/readme.md': 'docs',
  'src/lib/a.go': 'a',
  'src/lib/a_test.go': 't',
  'src/keep.log': 'kept?',
};

describe('extensions/project-descriptor.md include/exclude (gitignore syntax)', () => {
  it('exclude: patterns anywhere, directory patterns, anchored paths, negation', async () => {
    const app = await trees.create(APP);
    const dest = join(await trees.create(), 'ws');
    await copyAppDir(app, dest, { exclude: ['*.log', '!src/keep.log', 'docs/', '/src/lib/*_test.go'] });
    expect(await listTree(dest)).toEqual(['go.mod', 'main.go', 'src/', 'src/keep.log', 'src/lib/', 'src/lib/a.go']);
  });

  it('include: only matching files (and whole matching directories) are copied', async () => {
    const app = await trees.create(APP);
    const dest = join(await trees.create(), 'ws');
    await copyAppDir(app, dest, { include: ['*.go', 'docs/'] });
    expect(await listTree(dest)).toEqual(['docs/', 'docs/readme.md', 'main.go', 'src/', 'src/lib/', 'src/lib/a.go', 'src/lib/a_test.go']);
  });

  it('copies everything without a filter, keeping symlinks as links and exec bits', async () => {
    const app = await trees.create({ 'run.sh': '#!/bin/sh', 'x/y': 'z' });
    await import('node:fs/promises').then((fs) => fs.chmod(join(app, 'run.sh'), 0o755));
    await symlink('x/y', join(app, 'link'));
    const dest = join(await trees.create(), 'ws');
    const { files } = await copyAppDir(app, dest);
    expect(files).toBe(2);
    expect(await readlink(join(dest, 'link'))).toBe('x/y');
    expect((await stat(join(dest, 'run.sh'))).mode & 0o111).toBe(0o111);
  });

  it('a missing app dir is NOT_FOUND naming it; a file is USAGE', async () => {
    await expect(copyAppDir('/no/such/app', '/tmp/unused')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'app directory /no/such/app does not exist' });
    const dir = await trees.create({ f: '' });
    await expect(copyAppDir(join(dir, 'f'), '/tmp/unused')).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('compiles ** across directories and ? within a name', () => {
    const [deep, one] = compilePatterns(['a/**/z.txt', 'file?.md']);
    expect(deep!.re.test('a/z.txt')).toBe(true);
    expect(deep!.re.test('a/b/c/z.txt')).toBe(true);
    expect(deep!.re.test('b/a/z.txt')).toBe(false);
    expect(one!.re.test('sub/file1.md')).toBe(true);
    expect(one!.re.test('file12.md')).toBe(false);
  });
});
