import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempTrees } from '../../../test/support/temp-tree.js';
import { escapeBuildpackId } from '../../buildpack/index.js';
import { treeState } from '../../cache/index.js';
import { keepLayerTrees, offerLayerTrees, OFFERS_DIR, TREES_PER_LAYER, withdrawLayerTrees } from './layer-trees.js';

const trees = tempTrees('lading-layer-trees-');
afterEach(() => trees.cleanup());

const BP = 'lading/node-engine';
const keyOf = (s: string) => createHash('sha256').update(s).digest('hex');

/** A layers dir holding one sealed layer `name` of BP, as buildpacks/lib's contributeLayer leaves it. */
async function sealedLayer(layersDir: string, name: string, key: string, files: Record<string, string>, metadata = 'version = "24.1.0"\nsha256 = "abc"\n', links: Record<string, string> = {}) {
  const bpDir = join(layersDir, escapeBuildpackId(BP));
  const dir = join(bpDir, name);
  await mkdir(dir, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
  for (const [rel, target] of Object.entries(links)) await symlink(target, join(dir, rel));
  await writeFile(join(bpDir, `${name}.toml`), `[types]\nlaunch = true\nbuild = true\ncache = true\n\n[metadata]\n${metadata}`);
  await writeFile(join(bpDir, `${name}.lading-content.json`), `${JSON.stringify({ version: 1, key, state: await treeState(dir) })}\n`);
  return { bpDir, dir, marker: join(bpDir, `${name}.lading-content.json`) };
}

const exists = (p: string) => stat(p).then(() => true, () => false);

describe('the layer tree store (docs/lifecycle.md "Layer tree store")', () => {
  it('keeps a sealed layer as links, re-seals the layer for the exporter, and offers the tree to the next build', async () => {
    const store = await trees.create();
    const first = await trees.create();
    const key = keyOf('node 24.1.0');
    const layer = await sealedLayer(first, 'node', key, { 'bin/node': 'binary', 'lib/x.js': 'x' }, undefined, { 'bin/nodejs': 'node' });

    expect(await keepLayerTrees(store, first, [BP])).toEqual([{ buildpack: BP, layer: 'node', key }]);
    const stored = join(store, 'entries', key, 'tree');
    expect((await stat(join(stored, 'bin', 'node'))).ino).toBe((await stat(join(layer.dir, 'bin', 'node'))).ino);
    // linking set every file's ctime: the marker holds the state as it is now, so the exporter still trusts it
    const marker = JSON.parse(await readFile(layer.marker, 'utf8')) as { key: string; state: string };
    expect(marker).toMatchObject({ version: 1, key, state: await treeState(layer.dir) });
    // a second keep of the same key stores nothing new
    expect(await keepLayerTrees(store, first, [BP])).toEqual([]);

    const next = await trees.create();
    expect(await offerLayerTrees(store, next, [BP])).toEqual([{ buildpack: BP, layer: 'node', key }]);
    const offers = join(next, escapeBuildpackId(BP), OFFERS_DIR);
    expect((await readdir(offers)).sort()).toEqual([key, `${key}.json`]);
    expect(JSON.parse(await readFile(join(offers, `${key}.json`), 'utf8'))).toEqual({ version: 1, key, metadata: { version: '24.1.0', sha256: 'abc' } });
    expect(await readFile(join(offers, key, 'lib', 'x.js'), 'utf8')).toBe('x');
    expect(await readlink(join(offers, key, 'bin', 'nodejs'))).toBe('node');
    expect((await stat(join(offers, key, 'bin', 'node'))).mode & 0o777).toBe((await stat(join(stored, 'bin', 'node'))).mode & 0o777);

    await withdrawLayerTrees(next, [BP]);
    expect(await exists(offers)).toBe(false);
    // withdrawing removed the offered links only
    expect(await readFile(join(stored, 'bin', 'node'), 'utf8')).toBe('binary');
  });

  it('offers nothing for a layer the build restored, nor from an empty or unreadable store', async () => {
    const store = await trees.create();
    const first = await trees.create();
    const key = keyOf('a');
    await sealedLayer(first, 'node', key, { 'bin/node': 'binary' });
    await keepLayerTrees(store, first, [BP]);
    // the restorer filled the layer: nothing to offer
    expect(await offerLayerTrees(store, first, [BP])).toEqual([]);
    expect(await offerLayerTrees(await trees.create(), await trees.create(), [BP])).toEqual([]);
    expect(await offerLayerTrees(join(store, 'missing'), await trees.create(), [BP])).toEqual([]);
    expect(await offerLayerTrees(store, await trees.create(), ['other/bp'])).toEqual([]);
  });

  it('does not keep a layer changed after it was sealed, nor one whose metadata JSON cannot hold', async () => {
    const store = await trees.create();
    const layers = await trees.create();
    const changed = await sealedLayer(layers, 'node', keyOf('a'), { 'bin/node': 'binary' });
    await appendFile(join(changed.dir, 'bin', 'node'), ' patched');
    const dated = await sealedLayer(layers, 'headers', keyOf('b'), { 'include/node.h': 'h' }, 'built = 2026-12-06T10:00:00Z\n');
    expect(await keepLayerTrees(store, layers, [BP])).toEqual([]);
    expect(await exists(join(store, 'entries'))).toBe(false);
    // the sealed-but-unstorable layer keeps a marker the exporter still trusts
    expect(JSON.parse(await readFile(dated.marker, 'utf8')).state).toBe(await treeState(dated.dir));
  });

  it('drops a stored tree changed in place through a link, and a damaged entry, instead of offering them', async () => {
    const store = await trees.create();
    const first = await trees.create();
    const key = keyOf('a');
    const layer = await sealedLayer(first, 'node', key, { 'bin/node': 'binary' });
    await keepLayerTrees(store, first, [BP]);
    // the first build's layer directory shares the inode: a write there is a write to the store
    await appendFile(join(layer.dir, 'bin', 'node'), ' patched');
    expect(await offerLayerTrees(store, await trees.create(), [BP])).toEqual([]);
    expect(await exists(join(store, 'entries', key))).toBe(false);

    const other = await trees.create();
    const key2 = keyOf('b');
    await sealedLayer(other, 'node', key2, { 'bin/node': 'binary' });
    await keepLayerTrees(store, other, [BP]);
    await writeFile(join(store, 'entries', key2, 'entry.json'), '{"version":1,');
    const next = await trees.create();
    expect(await offerLayerTrees(store, next, [BP])).toEqual([]);
    expect(await exists(join(next, escapeBuildpackId(BP), OFFERS_DIR, key2))).toBe(false);
  });

  it(`keeps the ${TREES_PER_LAYER} most recently used trees of a layer and removes older ones`, async () => {
    const store = await trees.create();
    const keys = ['20', '22', '24'].map((v) => keyOf(v));
    const builds: string[] = [];
    for (const [i, key] of keys.entries()) {
      const layers = await trees.create();
      builds.push(layers);
      await sealedLayer(layers, 'node', key, { 'bin/node': `binary ${i}` });
      await keepLayerTrees(store, layers, [BP]);
    }
    expect((await readdir(join(store, 'entries'))).sort()).toEqual([keys[1], keys[2]].sort());
    const index = JSON.parse(await readFile(join(store, 'index', `${escapeBuildpackId(BP)}.json`), 'utf8')) as { layers: Record<string, string[]> };
    expect(index.layers['node']).toEqual([keys[2], keys[1]]);
    // using the older one again puts it first: it is what the next build is offered
    await keepLayerTrees(store, builds[1] as string, [BP]);
    const next = await trees.create();
    expect(await offerLayerTrees(store, next, [BP])).toEqual([{ buildpack: BP, layer: 'node', key: keys[1] }]);
  });

  it('a build that stores removes what a build that died while storing left behind, and entries no index names, once they are stale', async () => {
    const [orphan, young, indexed] = ['orphan', 'young', 'indexed'].map(keyOf) as [string, string, string];
    const store = await trees.create({
      'tmp/fresh/entry.json': '{}', 'tmp/stale/entry.json': '{}',
      [`entries/${orphan}/entry.json`]: '{}', [`entries/${young}/entry.json`]: '{}', [`entries/${indexed}/entry.json`]: '{}',
      [`index/${escapeBuildpackId(BP)}.json`]: JSON.stringify({ version: 1, layers: { node: [indexed] } }),
    });
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    for (const p of ['tmp/stale', `entries/${orphan}`, `entries/${indexed}`]) await utimes(join(store, p), old, old);
    // a build that stores nothing cleans nothing up
    await keepLayerTrees(store, await trees.create(), [BP]);
    expect((await readdir(join(store, 'tmp'))).sort()).toEqual(['fresh', 'stale']);
    const layers = await trees.create();
    const stored = keyOf('stored');
    await sealedLayer(layers, 'headers', stored, { 'include/node.h': 'h' });
    await keepLayerTrees(store, layers, [BP]);
    expect(await readdir(join(store, 'tmp'))).toEqual(['fresh']);
    // a concurrent build's index write lost the orphan; the young one may still be about to be indexed
    expect((await readdir(join(store, 'entries'))).sort()).toEqual([young, indexed, stored].sort());
  });
});
