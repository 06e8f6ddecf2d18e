import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { treeState as sdkTreeState } from '../buildpacks/lib/index.js';
import { treeState as lifecycleTreeState } from '../lifecycle/cache/index.js';
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
