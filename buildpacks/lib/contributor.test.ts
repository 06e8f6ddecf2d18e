import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contributeLayer } from './contributor.js';
import { Layers } from './layer.js';
import { Logger } from './logger.js';

const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});
const settings = { buildpack: { id: 'bp', version: '1.0.0', sbomFormats: [] as string[] } };

async function setup(restored?: string, withDir = false) {
  const dir = await mkdtemp(join(tmpdir(), 'lading-contrib-'));
  tmp.push(dir);
  if (restored !== undefined) await writeFile(join(dir, 'node.toml'), restored);
  if (withDir) {
    await mkdir(join(dir, 'node'));
    await writeFile(join(dir, 'node', 'old.txt'), 'old');
  }
  const lines: string[] = [];
  const logger = new Logger({ stdout: { write: (s: string) => lines.push(s) }, stderr: { write: (s: string) => lines.push(s) } });
  return { dir, layers: new Layers(dir, settings), lines, logger };
}

describe('the layer contributor (buildpack.md "Reusing Layers")', () => {
  const build = async (l: { path: string; metadata: Record<string, unknown> }) => {
    await writeFile(join(l.path, 'new.txt'), 'new');
    l.metadata['built'] = true;
  };

  it('reuses a restored launch-only layer from metadata alone, leaving no directory (the exporter keeps the old layer)', async () => {
    const s = await setup('[metadata]\nversion = "20.11.1"\nsha = "abc"\n');
    const r = await contributeLayer(s.layers, 'node', { types: { launch: true }, expected: { version: '20.11.1', sha: 'abc' }, build }, s.logger);
    expect(r).toMatchObject({ reused: true });
    expect(s.lines.join('')).toBe('Reusing layer node\n');
    await s.layers.writeLayerTomls();
    expect(await readFile(join(s.dir, 'node.toml'), 'utf8')).toBe('[types]\nlaunch = true\nbuild = false\ncache = false\n\n[metadata]\nversion = "20.11.1"\nsha = "abc"\n');
    expect(await readdir(s.dir)).toEqual(['node.toml']);
  });

  it('compares values as they come back from TOML (tables in any key order, arrays, numbers)', async () => {
    const s = await setup('[metadata]\nflags = ["a", "b"]\nn = 3\n[metadata.deps]\ny = "2"\nx = "1"\n', true);
    const r = await contributeLayer(
      s.layers,
      'node',
      { types: { cache: true }, expected: { deps: { x: '1', y: '2' }, n: 3, flags: ['a', 'b'] }, build },
      s.logger,
    );
    expect(r.reused).toBe(true);
    expect(await readdir(join(s.dir, 'node'))).toEqual(['old.txt']);
  });

  it('rebuilds into an emptied directory when a key changed, saying which', async () => {
    const s = await setup('[metadata]\nversion = "20.11.0"\nother = "kept?"\n', true);
    const r = await contributeLayer(s.layers, 'node', { types: { launch: true, cache: true }, expected: { version: '20.11.1' }, build }, s.logger);
    expect(r).toMatchObject({ reused: false, reason: 'changed: version "20.11.0" → "20.11.1"' });
    expect(s.lines.join('')).toBe('Building layer node (changed: version "20.11.0" → "20.11.1")\n');
    expect(await readdir(join(s.dir, 'node'))).toEqual(['new.txt']);
    expect(r.layer.metadata).toEqual({ built: true, version: '20.11.1' });
  });

  it('rebuilds a cache layer whose contents were not restored, and one with no previous metadata', async () => {
    const a = await setup('[metadata]\nversion = "1"\n');
    expect((await contributeLayer(a.layers, 'node', { types: { cache: true }, expected: { version: '1' }, build }, a.logger)).reason).toBe('contents not restored');
    const b = await setup();
    expect((await contributeLayer(b.layers, 'node', { types: { build: true }, expected: { version: '1' }, build }, b.logger)).reason).toBe('no previous layer');
  });

  it('names the layer when the build callback fails', async () => {
    const s = await setup();
    await expect(
      contributeLayer(s.layers, 'node', { types: { launch: true }, expected: {}, build: async () => Promise.reject(new Error('tar exploded')) }, s.logger),
    ).rejects.toThrow('building layer node failed: tar exploded');
  });

  it('refuses reserved and malformed layer names', async () => {
    const s = await setup();
    await expect(s.layers.layer('launch')).rejects.toThrow('layer name "launch" is reserved');
    await expect(s.layers.layer('a/b')).rejects.toThrow('invalid layer name "a/b"');
  });

  it('writes SBOMs only in declared formats, and says how to declare them', async () => {
    const s = await setup();
    const layer = await s.layers.layer('node', { launch: true });
    await expect(layer.writeSbom([])).rejects.toThrow('buildpack.toml of bp declares no SBOM format the SDK writes');
    const only = new Layers(s.dir, { buildpack: { id: 'bp', version: '1', sbomFormats: ['application/spdx+json'] } });
    expect(await (await only.layer('x', { launch: true })).writeSbom([{ name: 'a', version: '1' }])).toEqual([join(s.dir, 'x.sbom.spdx.json')]);
  });
});
