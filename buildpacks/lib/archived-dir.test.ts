import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArchivedDir } from './archived-dir.js';
import { treeState } from './layer-content.js';

const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});
const layerDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'lading-archived-'));
  tmp.push(d);
  return d;
};

describe('ArchivedDir: a cache layer that holds a tool cache as one archive between builds', () => {
  it('round-trips files, directories, modes, symlinks and large files; the layer holds only the archive', async () => {
    const layer = await layerDir();
    const a = new ArchivedDir(layer, 'npm');
    const dir = await a.open();
    expect(dir).toBe(join(layer, 'npm'));
    await mkdir(join(dir, '_cacache/index-v5/ab/cd'), { recursive: true });
    await writeFile(join(dir, '_cacache/index-v5/ab/cd/entry'), 'index');
    await writeFile(join(dir, 'big.bin'), Buffer.alloc(3 << 20, 7));
    await writeFile(join(dir, 'run.sh'), '#!/bin/sh\n');
    await chmod(join(dir, 'run.sh'), 0o750);
    await symlink('run.sh', join(dir, 'link'));
    await mkdir(join(dir, 'empty'));
    await a.settle();
    expect(await readdir(layer)).toEqual(['npm.tar.gz']);

    const b = new ArchivedDir(layer, 'npm');
    const again = await b.open();
    expect(await readFile(join(again, '_cacache/index-v5/ab/cd/entry'), 'utf8')).toBe('index');
    expect((await readFile(join(again, 'big.bin'))).equals(Buffer.alloc(3 << 20, 7))).toBe(true);
    expect((await lstat(join(again, 'run.sh'))).mode & 0o777).toBe(0o750);
    expect(await readlink(join(again, 'link'))).toBe('run.sh');
    expect(await readdir(join(again, 'empty'))).toEqual([]);
    expect(await b.open()).toBe(again); // once
  });

  it('a build that never opens it leaves the layer exactly as restored, and drops what a tool wrote unasked', async () => {
    const layer = await layerDir();
    const first = new ArchivedDir(layer, 'npm');
    await writeFile(join(await first.open(), 'kept'), 'k');
    await first.settle();
    const before = treeState(layer);

    await new ArchivedDir(layer, 'npm').settle();
    expect(treeState(layer)).toBe(before);

    // a tool that writes to the cache dir without it being unpacked (logs): that goes, the archive stays as it was
    const archive = await lstat(join(layer, 'npm.tar.gz'));
    await mkdir(join(layer, 'npm/_logs'), { recursive: true });
    await writeFile(join(layer, 'npm/_logs/debug.log'), 'log');
    await new ArchivedDir(layer, 'npm').settle();
    expect(await readdir(layer)).toEqual(['npm.tar.gz']);
    expect(await lstat(join(layer, 'npm.tar.gz'))).toMatchObject({ ino: archive.ino, mtimeMs: archive.mtimeMs });
  });

  it('a layer from before the archive keeps its contents: they are packed into it', async () => {
    const layer = await layerDir();
    await mkdir(join(layer, '_cacache/content-v2'), { recursive: true });
    await writeFile(join(layer, '_cacache/content-v2/blob'), 'old');
    await new ArchivedDir(layer, 'npm').settle();
    expect(await readdir(layer)).toEqual(['npm.tar.gz']);
    expect(await readFile(join(await new ArchivedDir(layer, 'npm').open(), '_cacache/content-v2/blob'), 'utf8')).toBe('old');
  });

  it('a damaged archive gives an empty directory and a warning naming it, not a half-read cache', async () => {
    const layer = await layerDir();
    await writeFile(join(layer, 'npm.tar.gz'), 'not gzip');
    const warnings: string[] = [];
    const dir = await new ArchivedDir(layer, 'npm', (m) => warnings.push(m)).open();
    expect(await readdir(dir)).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining(join(layer, 'npm.tar.gz'))]);
    expect(warnings[0]).toMatch(/empty cache/);
  });
});
