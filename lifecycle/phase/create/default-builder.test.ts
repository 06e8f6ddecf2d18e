import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { familiarName } from '../../../registry/reference.js';
import { readStackFile } from '../../../stacks/builder/index.js';
import { loadBuilderCatalog, readBuilderConfig } from '../../platform/index.js';
import { defaultBuilderDir, stackImageRef, DEFAULT_STACK } from './default-builder.js';
import { runImageSet } from './run-image-choice.js';

const ROOT = resolve(import.meta.dirname, '../../..');

describe('the default builder (stacks/bookworm/builder.toml)', () => {
  it('is found above this module: stacks/bookworm of this installation', () => {
    expect(defaultBuilderDir()).toBe(join(ROOT, 'stacks', DEFAULT_STACK));
  });

  it('is found from a dist-like depth too, and a tree without it is an error naming where it looked', () => {
    expect(defaultBuilderDir(join(ROOT, 'dist', 'lifecycle', 'phase', 'create'))).toBe(join(ROOT, 'stacks', DEFAULT_STACK));
    const empty = mkdtempSync(join(tmpdir(), 'lading-no-builder-'));
    try {
      expect(() => defaultBuilderDir(empty)).toThrow(/no stacks\/bookworm\/builder\.toml above/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('lists buildpacks/node, go, java and python by relative uri, in that default order', async () => {
    const c = await readBuilderConfig(defaultBuilderDir());
    expect(c.buildpacks.map((b) => b.dir)).toEqual(['node', 'go', 'java', 'python'].map((n) => join(ROOT, 'buildpacks', n)));
    expect(c.order.map((g) => g.map((e) => e.id))).toEqual([['lading/nodejs'], ['lading/go'], ['lading/java'], ['lading/python']]);
  });

  it("names the stack's run images as `lading stack build` stores them: run-base (base) and run-static (static)", async () => {
    const c = await readBuilderConfig(defaultBuilderDir());
    const stack = await readStackFile(defaultBuilderDir());
    const set = runImageSet(c.runImages, c.file)!;
    expect(set.base.image).toBe(familiarName(stackImageRef(stack.name, 'run-base').name));
    expect(set.static?.image).toBe(familiarName(stackImageRef(stack.name, 'run-static').name));
    expect(set.base.image).toBe('lading/stacks/bookworm/run-base:latest');
    expect(stack.images.map((i) => i.name)).toEqual(expect.arrayContaining(['run-base', 'run-static']));
  });

  const present = ['node', 'go', 'java', 'python'].every((n) => existsSync(join(ROOT, 'buildpacks', n, 'buildpack.toml')));
  it.runIf(present)('its order resolves against the buildpacks its uris point to', async () => {
    const c = await readBuilderConfig(defaultBuilderDir());
    const catalog = await loadBuilderCatalog(c);
    expect(catalog.findBuildpack('lading/go').info.id).toBe('lading/go');
    expect(catalog.findBuildpack('lading/nodejs').info.id).toBe('lading/nodejs');
    expect(catalog.findBuildpack('lading/java').info.id).toBe('lading/java');
    expect(catalog.findBuildpack('lading/python').info.id).toBe('lading/python');
  });
});
