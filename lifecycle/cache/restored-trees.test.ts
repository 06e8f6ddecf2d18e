import { afterEach, describe, expect, it } from 'vitest';
import { appendFile, chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../../registry/oci/index.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { noteRestoredTree, treeState, unchangedRestoredTree } from './index.js';

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

  it('only trusts a tree for the cache it came from and the image path its tar was made for', async () => {
    const dir = await trees.create({ 'a.txt': 'one' });
    const cache = {};
    noteRestoredTree(cache, dir, { diffId: DIFF_ID, imagePath: '/layers/bp/l', state: (await treeState(dir))! });
    expect(await unchangedRestoredTree({}, dir, '/layers/bp/l')).toBeUndefined();
    expect(await unchangedRestoredTree(cache, dir, '/other/bp/l')).toBeUndefined();
    expect(await unchangedRestoredTree(cache, join(dir, 'x'), '/layers/bp/l')).toBeUndefined();
  });
});
