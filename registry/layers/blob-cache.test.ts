import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLayer, keptLayer } from './create-layer.js';

const dir = mkdtempSync(join(tmpdir(), 'lading-blob-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bytes(open: () => Promise<NodeJS.ReadableStream>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await open()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function tree(name: string, size: number): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'sub', 'big.bin'), Buffer.alloc(size, 3));
  writeFileSync(join(root, 'small.txt'), 'text\n');
  return root;
}

/** A large layer written once with a blob cache (and disposed): the layer, its kept blob and the blob's record. */
async function keptOnce(name: string) {
  const cacheDir = join(dir, `cache-${name}`);
  const first = await createLayer({ directories: [{ source: tree(name, 1 << 20), target: `/layers/${name}` }] }, { blobCache: { dir: cacheDir, minSize: 1 << 19 }, tempDir: dir });
  await first.dispose();
  const scheme = readdirSync(cacheDir)[0]!;
  const blob = join(cacheDir, scheme, readdirSync(join(cacheDir, scheme)).find((f) => f.endsWith('.tar.gz'))!);
  return { first, cacheDir, blob, meta: blob.replace(/\.tar\.gz$/, '.json') };
}

describe('the layer blob cache', () => {
  it('a large layer seen before is not compressed again: same blob, same digests, kept on dispose', async () => {
    const src = tree('a', 1 << 20);
    const cache = { dir: join(dir, 'cache-a'), minSize: 1 << 19 };
    const spec = { directories: [{ source: src, target: '/layers/x' }] };
    const first = await createLayer(spec, { blobCache: cache, tempDir: dir });
    const second = await createLayer(spec, { blobCache: cache, tempDir: dir });
    expect(second.path).not.toBe(first.path);
    expect(second.path.startsWith(cache.dir)).toBe(true);
    expect([second.digest, second.diffId, second.size]).toEqual([first.digest, first.diffId, first.size]);
    expect((await bytes(second.compressed)).equals(await bytes(first.compressed))).toBe(true);
    expect((await bytes(second.uncompressed)).equals(await bytes(first.uncompressed))).toBe(true);
    await second.dispose();
    expect(existsSync(second.path)).toBe(true);
    await first.dispose();
    expect(existsSync(first.path)).toBe(false);
    // an uncached write gives the same blob
    const plain = await createLayer(spec, { tempDir: dir });
    expect(plain.digest).toBe(first.digest);
    await plain.dispose();
  });

  it('a damaged kept blob is replaced, and small layers are not kept', async () => {
    const src = tree('b', 1 << 20);
    const cache = { dir: join(dir, 'cache-b'), minSize: 1 << 19 };
    const spec = { directories: [{ source: src, target: '/layers/y' }] };
    const first = await createLayer(spec, { blobCache: cache, tempDir: dir });
    const scheme = readdirSync(cache.dir)[0]!;
    const blob = readdirSync(join(cache.dir, scheme)).find((f) => f.endsWith('.tar.gz'))!;
    writeFileSync(join(cache.dir, scheme, blob), 'damaged');
    const again = await createLayer(spec, { blobCache: cache, tempDir: dir });
    expect(again.path.startsWith(cache.dir)).toBe(false);
    expect(again.digest).toBe(first.digest);
    expect(readFileSync(join(cache.dir, scheme, blob)).length).toBe(first.size);
    const small = await createLayer({ directories: [{ source: tree('c', 1024), target: '/layers/z' }] }, { blobCache: { dir: join(dir, 'cache-c'), minSize: 1 << 19 }, tempDir: dir });
    expect(existsSync(join(dir, 'cache-c'))).toBe(false);
    await Promise.all([first.dispose(), again.dispose(), small.dispose()]);
  });

  it('a verified blob is stamped and not hashed again; one rewritten in place with its size and mtime kept is still caught', async () => {
    const { first, cacheDir, blob, meta } = await keptOnce('d');
    expect(JSON.parse(readFileSync(meta, 'utf8')).verified).toBeUndefined();
    const kept = await keptLayer(cacheDir, first.diffId, first.uncompressedSize);
    expect(kept?.digest).toBe(first.digest);
    const st = statSync(blob, { bigint: true });
    expect(st.nlink).toBe(1n);
    expect(JSON.parse(readFileSync(meta, 'utf8')).verified).toBe(`${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`);
    expect((await keptLayer(cacheDir, first.diffId, first.uncompressedSize))?.digest).toBe(first.digest);
    // same size, mtime set back: the ctime still moved, so the blob is hashed and found damaged
    const bytes = readFileSync(blob);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    writeFileSync(blob, bytes);
    utimesSync(blob, st.atime, st.mtime);
    expect(await keptLayer(cacheDir, first.diffId, first.uncompressedSize)).toBeUndefined();
    expect(existsSync(blob)).toBe(false);
  });

  it('a kept blob linked elsewhere too (a --cache-dir) stays verified by its mtime while links come and go', async () => {
    const { first, cacheDir, blob, meta } = await keptOnce('e');
    linkSync(blob, join(dir, 'e-link-1'));
    expect((await keptLayer(cacheDir, first.diffId, first.uncompressedSize))?.digest).toBe(first.digest);
    const verified = JSON.parse(readFileSync(meta, 'utf8')).verified;
    expect(verified).toMatch(/:linked$/);
    linkSync(blob, join(dir, 'e-link-2'));
    rmSync(join(dir, 'e-link-1'));
    expect((await keptLayer(cacheDir, first.diffId, first.uncompressedSize))?.digest).toBe(first.digest);
    expect(JSON.parse(readFileSync(meta, 'utf8')).verified).toBe(verified);
    // written through the other link: the mtime moves, the blob is hashed and found damaged
    writeFileSync(join(dir, 'e-link-2'), 'damaged');
    expect(await keptLayer(cacheDir, first.diffId, first.uncompressedSize)).toBeUndefined();
  });
});
