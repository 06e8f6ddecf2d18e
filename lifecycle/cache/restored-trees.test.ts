import { afterEach, describe, expect, it } from 'vitest';
import { appendFile, chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../../registry/oci/index.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { forgetTreeListings, linkedTreeState, linkTreeState, noteRestoredTree, treeState, treeStateSync, unchangedRestoredTree } from './index.js';

const trees = tempTrees('lading-tree-state-');
afterEach(() => trees.cleanup());

const DIFF_ID = `sha256:${'a'.repeat(64)}` as Digest;

describe('restored layer trees: is a restored cache layer still what the cache holds?', () => {
  const changes: Record<string, (dir: string) => Promise<unknown>> = {
    'a same-size rewrite of a file': (d) => writeFile(join(d, 'a.txt'), 'ONE'),
    'an appended byte': (d) => appendFile(join(d, 'sub/b.txt'), '!'),
    'a chmod': (d) => chmod(join(d, 'a.txt'), 0o755),
    'a new empty file': (d) => writeFile(join(d, 'sub/new'), ''),
    'a new empty directory': (d) => mkdir(join(d, 'empty')),
    'a removed file': (d) => rm(join(d, 'sub/b.txt')),
    'a rename': (d) => rename(join(d, 'a.txt'), join(d, 'c.txt')),
    'a new symlink': (d) => symlink('a.txt', join(d, 'link')),
    'the directory replaced by an identical copy': async (d) => {
      await rm(d, { recursive: true });
      await mkdir(join(d, 'sub'), { recursive: true });
      await writeFile(join(d, 'a.txt'), 'one');
      await writeFile(join(d, 'sub/b.txt'), 'two');
    },
  };

  it('treeState is stable while nothing changes, and undefined for a missing tree', async () => {
    const dir = await trees.create({ 'a.txt': 'one', 'sub/b.txt': 'two' });
    const state = await treeState(dir);
    expect(state).toMatch(/^[0-9a-f]{64}$/);
    expect(await treeState(dir)).toBe(state);
    expect(await treeState(join(dir, 'missing'))).toBeUndefined();
  });

  for (const [what, change] of Object.entries(changes)) {
    it(`${what} changes the state, so the export packs the layer again`, async () => {
      const dir = await trees.create({ 'a.txt': 'one', 'sub/b.txt': 'two' });
      const cache = {};
      noteRestoredTree(cache, dir, { diffId: DIFF_ID, imagePath: '/layers/bp/l', state: (await treeState(dir))! });
      expect((await unchangedRestoredTree(cache, dir, '/layers/bp/l'))?.diffId).toBe(DIFF_ID);
      await new Promise((r) => setTimeout(r, 5));
      await change(dir);
      expect(await unchangedRestoredTree(cache, dir, '/layers/bp/l')).toBeUndefined();
    });
  }

  it("a walk that takes a directory's names from the last walk sees what one reading every directory sees", async () => {
    const dir = await trees.create({ 'a.txt': 'one', 'sub/b.txt': 'two', 'sub/deep/c.txt': 'three', 'other/d.txt': 'four' });
    const fresh = () => {
      forgetTreeListings();
      return treeStateSync(dir);
    };
    const first = fresh();
    expect(treeStateSync(dir)).toBe(first); // from the listing, nothing changed
    const edits: Array<() => Promise<unknown>> = [
      () => writeFile(join(dir, 'sub/deep/new.txt'), ''),
      () => rm(join(dir, 'sub/b.txt')),
      () => rename(join(dir, 'other/d.txt'), join(dir, 'other/e.txt')),
      () => writeFile(join(dir, 'sub/deep/c.txt'), 'THREE'),
      () => mkdir(join(dir, 'sub/deep/inner')),
      async () => {
        await rm(join(dir, 'other'), { recursive: true });
        await mkdir(join(dir, 'other'));
        await writeFile(join(dir, 'other/e.txt'), 'four');
      },
    ];
    let last = first;
    for (const edit of edits) {
      treeStateSync(dir); // the listing to take names from
      await edit();
      const remembered = treeStateSync(dir);
      expect(remembered).not.toBe(last);
      expect(fresh()).toBe(remembered);
      last = remembered;
    }
  });

  it('only trusts a tree for the cache it came from and the image path its tar was made for', async () => {
    const dir = await trees.create({ 'a.txt': 'one' });
    const cache = {};
    noteRestoredTree(cache, dir, { diffId: DIFF_ID, imagePath: '/layers/bp/l', state: (await treeState(dir))! });
    expect(await unchangedRestoredTree({}, dir, '/layers/bp/l')).toBeUndefined();
    expect(await unchangedRestoredTree(cache, dir, '/other/bp/l')).toBeUndefined();
    expect(await unchangedRestoredTree(cache, join(dir, 'x'), '/layers/bp/l')).toBeUndefined();
  });
});

describe('linkTreeState: a tree hard-linked elsewhere, and its linked state, in one walk', () => {
  it('makes the same tree of the same files and returns what linkedTreeState says of the source', async () => {
    const from = await trees.create({ 'bin/node': 'binary', 'lib/a/b.js': 'b' }, ['empty']);
    await chmod(join(from, 'bin/node'), 0o755);
    await symlink('node', join(from, 'bin/nodejs'));
    await chmod(join(from, 'lib'), 0o555);
    const to = join(await trees.create(), 'copy');
    const state = linkTreeState(from, to);
    expect(state).toBe(linkedTreeState(from));
    expect(lstatSync(join(to, 'bin/node')).ino).toBe(lstatSync(join(from, 'bin/node')).ino);
    expect(lstatSync(join(to, 'bin/node')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(to, 'bin/nodejs'))).toBe('node');
    expect(lstatSync(join(to, 'lib')).mode & 0o777).toBe(0o555);
    expect(readdirSync(join(to, 'empty'))).toEqual([]);
    expect(linkTreeState(join(from, 'missing'), join(to, 'x'))).toBeUndefined();
    await chmod(join(from, 'lib'), 0o755);
    await chmod(join(to, 'lib'), 0o755);
  });
});
