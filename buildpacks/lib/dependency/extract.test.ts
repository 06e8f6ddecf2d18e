import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTarGz } from './extract.js';

const dir = mkdtempSync(join(tmpdir(), 'lading-extract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; mode?: number; content?: string | Buffer; linkname?: string };

async function tgz(name: string, entries: Entry[]): Promise<string> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const body = Buffer.from(e.content ?? '');
    await new Promise<void>((resolve, reject) => pack.entry({ name: e.name, type: e.type ?? 'file', mode: e.mode ?? 0o644, ...(e.linkname ? { linkname: e.linkname } : {}) }, body, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await ended;
  const file = join(dir, name);
  writeFileSync(file, gzipSync(Buffer.concat(chunks)));
  return file;
}

describe('extractTarGz', () => {
  it('unpacks files, directories, symlinks and hard links with their modes, strips and skips', async () => {
    const big = Buffer.alloc(3 << 20, 7);
    const archive = await tgz('a.tgz', [
      { name: 'package/', type: 'directory', mode: 0o755 },
      { name: 'package/bin/tool', mode: 0o755, content: '#!/bin/sh\n' },
      { name: 'package/lib/big.bin', content: big },
      { name: 'package/lib/secret', mode: 0o600, content: 's' },
      { name: 'package/lib/link', type: 'symlink', linkname: 'big.bin' },
      { name: 'package/lib/hard', type: 'link', linkname: 'package/bin/tool' },
      { name: 'package/include/node/v8.h', content: 'header' },
      { name: 'package/README.md', content: 'readme' },
    ]);
    const out = join(dir, 'a');
    const old = process.umask(0o077);
    try {
      await extractTarGz(archive, out, { stripComponents: 1, skip: (p) => p === 'include' || p.startsWith('include/') || p === 'README.md' });
    } finally {
      process.umask(old);
    }
    expect(readFileSync(join(out, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\n');
    // modes as the archive gives them, whatever the umask
    expect(statSync(join(out, 'bin/tool')).mode & 0o777).toBe(0o755);
    expect(statSync(join(out, 'lib/secret')).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, 'lib/big.bin')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(out, 'lib/big.bin')).equals(big)).toBe(true);
    expect(readlinkSync(join(out, 'lib/link'))).toBe('big.bin');
    expect(statSync(join(out, 'lib/hard')).ino).toBe(statSync(join(out, 'bin/tool')).ino);
    expect(existsSync(join(out, 'include'))).toBe(false);
    expect(existsSync(join(out, 'README.md'))).toBe(false);
  });

  it('replaces what the destination has already', async () => {
    const archive = await tgz('b.tgz', [{ name: 'x/file', content: 'new' }, { name: 'x/ln', type: 'symlink', linkname: 'file' }]);
    const out = join(dir, 'b');
    mkdirSync(join(out, 'x'), { recursive: true });
    writeFileSync(join(out, 'x/file'), 'old and longer');
    writeFileSync(join(out, 'x/ln'), 'a file where the link goes');
    await extractTarGz(archive, out);
    expect(readFileSync(join(out, 'x/file'), 'utf8')).toBe('new');
    expect(readlinkSync(join(out, 'x/ln'))).toBe('file');
  });

  it('refuses entries that leave the destination, naming the archive', async () => {
    const archive = await tgz('c.tgz', [{ name: 'package/../../evil', content: 'x' }]);
    await expect(extractTarGz(archive, join(dir, 'c'), { stripComponents: 1 })).rejects.toThrow(/c\.tgz: entry .*evil points outside the destination/);
  });
});
