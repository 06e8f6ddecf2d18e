import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { bufferLayer, imageOf, tarOf } from '../../../test/support/random-image.js';
import { tempTrees } from '../../../test/support/temp-tree.js';
import { runImageHasShell } from './run-image-shell.js';

const trees = tempTrees('lading-shell-');
afterEach(() => trees.cleanup());

const image = async (...layers: Record<string, string>[]) => imageOf(await Promise.all(layers.map(async (files) => bufferLayer(await tarOf(files)))));

describe('runImageHasShell', () => {
  it('finds /bin/sh or /usr/bin/sh in any layer, and none in an image without', async () => {
    expect(await runImageHasShell(await image({ 'bin/sh': '#!' }, { 'etc/os-release': 'x' }))).toBe(true);
    expect(await runImageHasShell(await image({ 'usr/bin/sh': '#!' }))).toBe(true);
    expect(await runImageHasShell(await image({ 'bin/bash': '#!' }, { 'etc/passwd': 'x' }))).toBe(false);
  });

  it('a whiteout of the file, of its directory, or an opaque directory above hides a lower layer\'s shell', async () => {
    expect(await runImageHasShell(await image({ 'bin/sh': '#!' }, { 'bin/.wh.sh': '' }))).toBe(false);
    expect(await runImageHasShell(await image({ 'bin/sh': '#!' }, { '.wh.bin': '' }))).toBe(false);
    expect(await runImageHasShell(await image({ 'bin/sh': '#!' }, { 'bin/.wh..wh..opq': '', 'bin/ls': 'x' }))).toBe(false);
    // Whited out below, put back above.
    expect(await runImageHasShell(await image({ 'bin/sh': '#!' }, { 'bin/.wh.sh': '' }, { 'bin/sh': '#!' }))).toBe(true);
    expect(await runImageHasShell(await image({ 'usr/bin/sh': '#!' }, { 'usr/.wh..wh..opq': '' }))).toBe(false);
    expect(await runImageHasShell(await image({ 'bin/sh': '#!' }, { 'bi/.wh..wh..opq': '' }))).toBe(true);
    // A whiteout of something else hides nothing.
    expect(await runImageHasShell(await image({ 'bin/sh': '#!' }, { 'bin/.wh.ls': '' }))).toBe(true);
  });

  it('keeps the answer in a cache dir by the layers\' diffIDs', async () => {
    const dir = await trees.create();
    const withShell = await image({ 'bin/sh': '#!' });
    expect(await runImageHasShell(withShell, dir)).toBe(true);
    expect(await readdir(dir)).toEqual([expect.stringMatching(/^[0-9a-f]{64}\.shell$/)]);
    // Answered from the cache: the layers are not read (a layer that cannot be read would fail).
    const unreadable = imageOf(withShell.layers.map((l) => Object.assign(Object.create(Object.getPrototypeOf(l)), l, { uncompressed: () => Promise.reject(new Error('read')) })));
    expect(await runImageHasShell(unreadable, dir)).toBe(true);
    expect(await runImageHasShell(await image({ 'bin/bash': '#!' }), dir)).toBe(false);
    expect(await readdir(dir)).toHaveLength(2);
  });
});
