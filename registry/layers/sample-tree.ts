import { chmod, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Deterministic pseudo-random bytes (xorshift32); the same seed gives the same bytes everywhere. */
export function pseudoRandomBytes(size: number, seed: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, size);
}

const WORDS = ('const let function return import export from require module layer image build pack stack the of and ' +
  'to in is for with node_modules index json version license dependencies { } ( ) ; = => async await').split(' ');

/** Source-like text: compresses about as well as a JavaScript tree (4–6×). */
export function pseudoText(size: number, seed: number): Buffer {
  const rnd = pseudoRandomBytes(Math.ceil(size / 2) + 16, seed);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < size; i++) {
    const r = rnd[i % rnd.length] as number;
    const w = r % 11 === 0 ? '\n  ' : `${WORDS[r % WORDS.length] as string}${r % 7 === 0 ? String(r) : ''} `;
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('').slice(0, size), 'latin1');
}

export interface SampleTreeOptions {
  /** Approximate total bytes of file content; default 256 KiB. Half text in small files, half random in large ones. */
  bytes?: number;
  seed?: number;
}

/**
 * Writes a deterministic tree exercising every case the layer writer handles: nested and empty dirs,
 * text and binary files, exec bits, odd modes, a relative symlink, a symlink to a directory, a hard
 * link, long and non-ASCII names. Modes are set explicitly, so the umask does not change the tree.
 */
export async function writeSampleTree(dir: string, options: SampleTreeOptions = {}): Promise<void> {
  const total = options.bytes ?? 256 * 1024;
  const seed = options.seed ?? 42;
  const put = async (rel: string, data: Buffer | string, mode = 0o644): Promise<void> => {
    const p = join(dir, rel);
    await mkdir(join(p, '..'), { recursive: true });
    await writeFile(p, data);
    await chmod(p, mode);
  };

  await mkdir(dir, { recursive: true });
  await put('package.json', '{"name":"sample","version":"1.0.0"}\n');
  await put('bin/start.sh', '#!/bin/sh\nexec node index.js\n', 0o700);
  await put('private.key', 'not really a key\n', 0o600);
  await put('café/naïve.txt', 'non-ASCII name\n');
  await put('日本語/ファイル.txt', 'CJK name\n');
  await put('emoji/🦀.txt', 'astral-plane name\n');
  const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
  await put(`${longDir}/${'f'.repeat(90)}.txt`, 'name longer than 100 bytes, split into prefix + name\n');
  await put(`long/${'g'.repeat(150)}.txt`, 'segment longer than 100 bytes, needs PAX\n');
  await mkdir(join(dir, 'empty/nested-empty'), { recursive: true });
  await symlink('../package.json', join(dir, 'bin/package-link'));
  await symlink('café', join(dir, 'dir-link'));
  await link(join(dir, 'package.json'), join(dir, 'bin/package-hardlink.json'));

  const textBytes = Math.floor(total / 2);
  const smallSize = 4096;
  for (let i = 0, n = 0; n < textBytes; i++) {
    const size = Math.min(smallSize + ((i * 7919) % smallSize), textBytes - n);
    await put(`node_modules/pkg-${i % 37}/lib/file-${i}.js`, pseudoText(size, seed + i));
    n += size;
  }
  const binBytes = total - textBytes;
  const large = Math.max(1, Math.floor(binBytes / (8 << 20)));
  for (let i = 0; i < large; i++) {
    await put(`assets/blob-${i}.bin`, pseudoRandomBytes(Math.floor(binBytes / large), seed * 1000 + i), i === 0 ? 0o755 : 0o644);
  }
  // Directory modes last: writing into a 0555 directory would fail.
  await chmod(join(dir, 'empty'), 0o700);
}
