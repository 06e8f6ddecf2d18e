import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLayer } from './create-layer.js';

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
});
