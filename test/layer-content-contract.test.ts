import { appendFile, chmod, link, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { OFFERS_DIR as SDK_OFFERS_DIR, takeOfferedTree, treeState as sdkTreeState } from '../buildpacks/lib/index.js';
import { writeContentMarker } from '../buildpacks/lib/layer-content.js';
import { treeState as lifecycleTreeState } from '../lifecycle/cache/index.js';
import { keepLayerTrees, OFFERS_DIR, offerLayerTrees } from '../lifecycle/phase/create/index.js';
import { tempTrees } from './support/temp-tree.js';

const trees = tempTrees('lading-content-contract-');
afterEach(() => trees.cleanup());

// Both sides of the layer content marker contract (docs/lifecycle.md "Layer content keys") compute the tree
// state on their own: buildpacks never import the lifecycle. They must agree exactly.
describe('the tree state of a content marker', () => {
  it('is the same from the buildpack SDK and the lifecycle, and both see a change', async () => {
    const dir = await trees.create({ 'bin/node': 'binary', 'lib/a/b.js': 'b', 'env/NODE_HOME.default': '/layers/bp/node' });
    await chmod(`${dir}/bin/node`, 0o755);
    await symlink('../lib/a/b.js', `${dir}/bin/b`);
    await mkdir(`${dir}/empty`);
    const sdk = sdkTreeState(dir);
    expect(sdk).toMatch(/^[0-9a-f]{64}$/);
    expect(await lifecycleTreeState(dir)).toBe(sdk);
    await writeFile(`${dir}/lib/a/b.js`, 'c');
    expect(sdkTreeState(dir)).not.toBe(sdk);
    expect(await lifecycleTreeState(dir)).toBe(sdkTreeState(dir));
    expect(sdkTreeState(`${dir}/missing`)).toBeUndefined();
    expect(await lifecycleTreeState(`${dir}/missing`)).toBeUndefined();
  });
});

describe('a layer tree shared with the layer tree store (docs/lifecycle.md "Layer tree store")', () => {
  it('keeps its state when its files get links elsewhere, and both sides still see a write', async () => {
    const dir = await trees.create({ 'bin/node': 'binary', 'lib/x.js': 'x' });
    const elsewhere = await trees.create();
    const before = sdkTreeState(dir);
    await link(`${dir}/bin/node`, `${elsewhere}/node`);
    // the first extra link sets ctime and nlink 1 -> 2: the state changes once, then holds
    const linked = sdkTreeState(dir);
    expect(linked).not.toBe(before);
    expect(await lifecycleTreeState(dir)).toBe(linked);
    await link(`${dir}/bin/node`, `${elsewhere}/node2`);
    await rm(`${elsewhere}/node2`);
    expect(sdkTreeState(dir)).toBe(linked);
    expect(await lifecycleTreeState(dir)).toBe(linked);
    await appendFile(`${elsewhere}/node`, ' patched');
    expect(sdkTreeState(dir)).not.toBe(linked);
    expect(await lifecycleTreeState(dir)).toBe(sdkTreeState(dir));
  });

  it('is kept by the lifecycle, offered to the next build and taken by the SDK with the metadata it was built with', async () => {
    expect(SDK_OFFERS_DIR).toBe(OFFERS_DIR);
    const store = await trees.create();
    const key = 'a'.repeat(64);
    const first = await trees.create({ 'bp/node/bin/node': 'binary', 'bp/node.toml': '[types]\nlaunch = true\n\n[metadata]\nversion = "24.1.0"\n[metadata.dist]\nsha = "abc"\n' });
    await writeContentMarker(`${first}/bp/node`, key);
    expect(await keepLayerTrees(store, first, ['bp'])).toHaveLength(1);

    const next = await trees.create();
    expect(await offerLayerTrees(store, next, ['bp'])).toHaveLength(1);
    expect(await takeOfferedTree(`${next}/bp`, 'b'.repeat(64), `${next}/bp/node`)).toBeUndefined();
    expect(await takeOfferedTree(`${next}/bp`, key, `${next}/bp/node`)).toEqual({ version: '24.1.0', dist: { sha: 'abc' } });
    expect(await readFile(`${next}/bp/node/bin/node`, 'utf8')).toBe('binary');
    // taken: nothing is left to withdraw, and the store still holds the tree
    expect(await readdir(`${next}/bp/${OFFERS_DIR}`)).toEqual([`${key}.json`]);
    expect(await readFile(`${store}/entries/${key}/tree/bin/node`, 'utf8')).toBe('binary');
  });

  it('leaves the layer directory as it was when nothing usable is offered', async () => {
    const layers = await trees.create({ [`bp/${OFFERS_DIR}/${'c'.repeat(64)}.json`]: '{"version":1,"key":"other","metadata":{}}' }, ['bp/node']);
    expect(await takeOfferedTree(`${layers}/bp`, 'c'.repeat(64), `${layers}/bp/node`)).toBeUndefined();
    expect(await takeOfferedTree(`${layers}/bp`, 'd'.repeat(64), `${layers}/bp/node`)).toBeUndefined();
    expect(await readdir(`${layers}/bp/node`)).toEqual([]);
  });
});
