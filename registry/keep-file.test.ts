import { chmod, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempTrees } from '../test/support/temp-tree.js';
import { keepFile } from './keep-file.js';

const trees = tempTrees('lading-keep-file-');
afterEach(() => trees.cleanup());

describe('keepFile', () => {
  it('writes the file whole, creating its directory, and replaces an earlier one', async () => {
    const dir = await trees.create();
    const file = join(dir, 'a', 'b', 'x.json');
    expect(await keepFile(file, 'one')).toBe(true);
    expect(await keepFile(file, 'two')).toBe(true);
    expect(await readFile(file, 'utf8')).toBe('two');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['x.json']);
  });

  it('says false and leaves nothing behind when the directory cannot be written', async () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere: make the target a directory instead, which rename cannot replace
      const dir = await trees.create();
      await mkdir(join(dir, 'x.json', 'inside'), { recursive: true });
      expect(await keepFile(join(dir, 'x.json'), 'data')).toBe(false);
      expect((await readdir(dir)).sort()).toEqual(['x.json']);
      return;
    }
    const dir = await trees.create();
    await chmod(dir, 0o500);
    expect(await keepFile(join(dir, 'x.json'), 'data')).toBe(false);
    await chmod(dir, 0o700);
    expect(await readdir(dir)).toEqual([]);
  });
});
