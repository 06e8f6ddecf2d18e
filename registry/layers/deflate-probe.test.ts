import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deflaterFor, nativeMatchesPortable, probeKey, setDeflateProbeCache } from './deflate-engine.js';

describe('deflaterFor(auto) with a probe cache', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    setDeflateProbeCache(undefined);
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('probes once and records the answer under a key of Node, zlib, CPU and pako; the next process reads it', async () => {
    const key = await probeKey();
    if (key === undefined) return expect(process.config.variables).toHaveProperty('node_shared_zlib'); // a system zlib: always probed
    const dir = await mkdtemp(join(tmpdir(), 'lading-probe-'));
    dirs.push(dir);
    const expected = (await nativeMatchesPortable()) ? 'native' : 'portable';

    setDeflateProbeCache(dir);
    expect((await deflaterFor('auto')).name).toBe(expected);
    const files = await readdir(dir);
    expect(files).toEqual([`deflate-probe-${key.slice(0, 32)}.json`]);
    expect(JSON.parse(await readFile(join(dir, files[0]!), 'utf8'))).toEqual({ key, native: expected === 'native' });

    // A recorded answer is used as it is (written here as the opposite to see that no probe ran).
    await writeFile(join(dir, files[0]!), JSON.stringify({ key, native: expected !== 'native' }));
    setDeflateProbeCache(dir);
    expect((await deflaterFor('auto')).name).toBe(expected === 'native' ? 'portable' : 'native');

    // A damaged or foreign record is ignored: probed and rewritten.
    await writeFile(join(dir, files[0]!), JSON.stringify({ key: 'other', native: expected !== 'native' }));
    setDeflateProbeCache(dir);
    expect((await deflaterFor('auto')).name).toBe(expected);
    await writeFile(join(dir, files[0]!), '{');
    setDeflateProbeCache(dir);
    expect((await deflaterFor('auto')).name).toBe(expected);
    expect(JSON.parse(await readFile(join(dir, files[0]!), 'utf8'))).toEqual({ key, native: expected === 'native' });
  });

  it('probeKey is stable within a process and portable mode never reads the cache', async () => {
    expect(await probeKey()).toBe(await probeKey());
    setDeflateProbeCache(join(tmpdir(), 'lading-probe-never-created'));
    expect((await deflaterFor('portable')).name).toBe('portable');
    await expect(readdir(join(tmpdir(), 'lading-probe-never-created'))).rejects.toThrow();
  });
});
