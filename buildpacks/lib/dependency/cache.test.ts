import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Layers } from '../layer.js';
import { Logger } from '../logger.js';

// counts how often the cached file is read to be hashed
const hashed: string[] = [];
vi.mock('./integrity.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('./integrity.js')>();
  return { ...real, hashFile: (file: string, algorithms: Parameters<typeof real.hashFile>[1]) => (hashed.push(file), real.hashFile(file, algorithms)) };
});
const { fetchCached } = await import('./cache.js');
const { CatalogSource } = await import('./catalog-source.js');

const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});
const sha = (b: string) => createHash('sha256').update(b).digest('hex');

describe('fetchCached: re-verifying a reused download', () => {
  it('hashes a restored file again only when it is not provably the file hashed before', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-fetch-cached-'));
    tmp.push(dir);
    await writeFile(join(dir, 'go.tgz'), 'pretend toolchain');
    const src = new CatalogSource({ entries: [{ name: 'go', version: '1.22.0', uri: pathToFileURL(join(dir, 'go.tgz')).toString(), sha256: sha('pretend toolchain') }] });
    const logger = new Logger({ stdout: { write: () => true }, stderr: { write: () => true } });
    const settings = { buildpack: { id: 'bp', version: '1.0.0', sbomFormats: [] } };
    const layersDir = join(dir, 'layers');
    // one build: fetch, then write <layer>.toml as the lifecycle restores it (without [types])
    const build = async () => {
      const layers = new Layers(layersDir, settings);
      const got = await fetchCached(layers, src, 'go', '1.22.0', logger);
      await layers.writeLayerTomls();
      const toml = join(layersDir, 'download-go.toml');
      await writeFile(toml, (await readFile(toml, 'utf8')).replace(/\[types\][^[]*/, ''));
      return got;
    };

    const first = await build();
    hashed.length = 0;
    const same = await build();
    expect(same.path).toBe(first.path);
    expect(same.sha256).toBe(sha('pretend toolchain'));
    expect(hashed).toEqual([]); // the very file hashed when downloaded

    // unpacked anew (another inode, as a restore from the cache's tar leaves it): hashed again, then trusted
    await copyFile(first.path, `${first.path}.new`);
    await rename(`${first.path}.new`, first.path);
    expect((await build()).sha256).toBe(sha('pretend toolchain'));
    expect(hashed).toEqual([first.path]);
    await build();
    expect(hashed).toEqual([first.path]);

    // written in place with the same size: hashed, found damaged, downloaded again
    await writeFile(first.path, 'PRETEND TOOLCHAIN');
    const again = await build();
    expect(hashed).toEqual([first.path, first.path]);
    expect(await readFile(again.path, 'utf8')).toBe('pretend toolchain');
  });
});
