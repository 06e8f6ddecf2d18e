import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DOWNLOAD_STORE_ENV, DownloadStore } from './download-store.js';

const dir = mkdtempSync(join(tmpdir(), 'lading-downloads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = Buffer.from('a verified download\n');
const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

describe('the download store', () => {
  it('comes from the platform variable, or is absent', () => {
    expect(DownloadStore.fromEnv({})).toBeUndefined();
    expect(DownloadStore.fromEnv({ [DOWNLOAD_STORE_ENV]: ' ' })).toBeUndefined();
    expect(DownloadStore.fromEnv({ [DOWNLOAD_STORE_ENV]: join(dir, 's') })?.dir).toBe(join(dir, 's'));
  });

  it('keeps a verified file by digest and hands out verified copies', async () => {
    const store = new DownloadStore(join(dir, 'store'));
    const expected = { algorithm: 'sha512', hex: hex('sha512', bytes) } as const;
    expect(await store.take(expected, join(dir, 'out', 'a'), 'x')).toBeUndefined();
    writeFileSync(join(dir, 'fetched'), bytes);
    await store.keep(expected, join(dir, 'fetched'));
    expect(existsSync(join(dir, 'store', 'sha512', expected.hex))).toBe(true);
    expect(await store.take(expected, join(dir, 'out', 'b'), 'x')).toBe(hex('sha256', bytes));
    expect(readFileSync(join(dir, 'out', 'b')).equals(bytes)).toBe(true);
  });

  it('removes a damaged entry instead of handing it out', async () => {
    const store = new DownloadStore(join(dir, 'store2'));
    const expected = { algorithm: 'sha256', hex: hex('sha256', bytes) } as const;
    writeFileSync(join(dir, 'good'), bytes);
    await store.keep(expected, join(dir, 'good'));
    writeFileSync(join(dir, 'store2', 'sha256', expected.hex), 'tampered');
    expect(await store.take(expected, join(dir, 'out', 'c'), 'x')).toBeUndefined();
    expect(existsSync(join(dir, 'out', 'c'))).toBe(false);
    expect(existsSync(join(dir, 'store2', 'sha256', expected.hex))).toBe(false);
  });

  it('does not share downloads named only by SHA-1', async () => {
    const store = new DownloadStore(join(dir, 'store3'));
    const expected = { algorithm: 'sha1', hex: hex('sha1', bytes) } as const;
    writeFileSync(join(dir, 'old'), bytes);
    await store.keep(expected, join(dir, 'old'));
    expect(existsSync(join(dir, 'store3'))).toBe(false);
    expect(await store.take(expected, join(dir, 'out', 'd'), 'x')).toBeUndefined();
  });
});
