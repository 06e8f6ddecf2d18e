import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contributeLayer } from './contributor.js';
import { Layers } from './layer.js';
import { CONTENT_MARKER_SUFFIX, OFFERS_DIR, treeState, type ContentMarker } from './layer-content.js';
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

describe('content markers (docs/lifecycle.md "Layer content keys")', () => {
  const program = async (text: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-bp-'));
    tmp.push(dir);
    await mkdir(join(dir, 'bin', 'chunks'), { recursive: true });
    await writeFile(join(dir, 'bin', 'main.mjs'), text);
    await writeFile(join(dir, 'bin', 'chunks', 'a.mjs'), 'export const a = 1;\n');
    return dir;
  };
  const fill = async (l: { path: string; metadata: Record<string, unknown> }) => {
    await mkdir(join(l.path, 'bin'));
    await writeFile(join(l.path, 'bin', 'node'), 'binary');
    l.metadata['sha256'] = 'abc';
  };
  const marker = async (dir: string, name = 'node') => JSON.parse(await readFile(join(dir, `${name}${CONTENT_MARKER_SUFFIX}`), 'utf8')) as ContentMarker;

  it('seals a freshly built layer: a key of its inputs and its tree state, beside the layer, never inside it', async () => {
    const bp = await program('v1');
    const s = await setup();
    await contributeLayer(s.layers, 'node', { types: { launch: true, cache: true }, expected: { version: '24.1.0' }, content: { buildpackDir: bp }, build: fill }, s.logger);
    const m = await marker(s.dir);
    expect(m.version).toBe(1);
    expect(m.key).toMatch(/^[0-9a-f]{64}$/);
    expect(m.state).toBe(treeState(join(s.dir, 'node')));
    expect(await readdir(join(s.dir, 'node'))).toEqual(['bin']);
  });

  it('gives the same key for the same inputs, and another for another version, program, layer path or inputs', async () => {
    const keyAt = async (dir: string, opts: { bp: string; version?: string; inputs?: Record<string, unknown> }) => {
      await rm(join(dir, 'node'), { recursive: true, force: true });
      const s = await setup();
      await contributeLayer(new Layers(dir, settings), 'node', {
        types: { launch: true }, expected: { version: opts.version ?? '24.1.0' }, content: { buildpackDir: opts.bp, ...(opts.inputs ? { inputs: opts.inputs } : {}) }, build: fill,
      }, s.logger);
      return (await marker(dir)).key;
    };
    const [v1, v1again, v2] = [await program('v1'), await program('v1'), await program('v2')];
    const here = (await setup()).dir;
    const there = (await setup()).dir;
    const key = await keyAt(here, { bp: v1 });
    expect(await keyAt(here, { bp: v1again })).toBe(key);
    // The layer's path is an input: env files and scripts may name it.
    expect(await keyAt(there, { bp: v1 })).not.toBe(key);
    expect(await keyAt(here, { bp: v2 })).not.toBe(key);
    expect(await keyAt(here, { bp: v1, version: '24.2.0' })).not.toBe(key);
    expect(await keyAt(here, { bp: v1, inputs: { flavor: 'x' } })).not.toBe(key);
  });

  it('takes a tree the platform offers for the same key instead of building, with the metadata it was built with', async () => {
    const bp = await program('v1');
    const first = await setup();
    await contributeLayer(first.layers, 'node', { types: { launch: true }, expected: { version: '24.1.0' }, content: { buildpackDir: bp }, build: fill }, first.logger);
    const { key } = await marker(first.dir);
    // the platform offers the same layer path's tree: here, the first build's layer under OFFERS_DIR
    await rm(join(first.dir, `node${CONTENT_MARKER_SUFFIX}`));
    await mkdir(join(first.dir, OFFERS_DIR));
    await rename(join(first.dir, 'node'), join(first.dir, OFFERS_DIR, key));
    await writeFile(join(first.dir, OFFERS_DIR, `${key}.json`), JSON.stringify({ version: 1, key, metadata: { version: '24.1.0', sha256: 'abc', extra: 'kept' } }));
    let built = 0;
    const counting = async (l: { path: string; metadata: Record<string, unknown> }) => { built++; await fill(l); };
    const again = await contributeLayer(new Layers(first.dir, settings), 'node', { types: { launch: true }, expected: { version: '24.1.0' }, content: { buildpackDir: bp }, build: counting }, first.logger);
    expect(built).toBe(0);
    expect(again.layer.metadata).toEqual({ version: '24.1.0', sha256: 'abc', extra: 'kept' });
    expect(await readFile(join(first.dir, 'node', 'bin', 'node'), 'utf8')).toBe('binary');
    expect((await marker(first.dir)).key).toBe(key);
    expect(first.lines.join('')).toContain("linked from lading's layer tree store");
    // an offer for another key is not taken
    const other = await program('v2');
    await contributeLayer(new Layers(first.dir, settings), 'node', { types: { launch: true }, expected: { version: '24.2.0' }, content: { buildpackDir: other }, build: counting }, first.logger);
    expect(built).toBe(1);
  });

  it('writes no marker for a reused layer, without a content declaration, or without a readable program, and drops a stale one on rebuild', async () => {
    const bp = await program('v1');
    const reused = await setup('[metadata]\nversion = "24.1.0"\n', true);
    await contributeLayer(reused.layers, 'node', { types: { launch: true, cache: true }, expected: { version: '24.1.0' }, content: { buildpackDir: bp }, build: fill }, reused.logger);
    await expect(readFile(join(reused.dir, `node${CONTENT_MARKER_SUFFIX}`))).rejects.toThrow();

    const plain = await setup();
    await contributeLayer(plain.layers, 'node', { types: { launch: true }, expected: {}, build: fill }, plain.logger);
    await expect(readFile(join(plain.dir, `node${CONTENT_MARKER_SUFFIX}`))).rejects.toThrow();

    const stale = await setup();
    await writeFile(join(stale.dir, `node${CONTENT_MARKER_SUFFIX}`), '{"version":1}');
    await contributeLayer(stale.layers, 'node', { types: { launch: true }, expected: {}, content: { buildpackDir: join(stale.dir, 'no-such-buildpack') }, build: fill }, stale.logger);
    await expect(readFile(join(stale.dir, `node${CONTENT_MARKER_SUFFIX}`))).rejects.toThrow();
  });
});
