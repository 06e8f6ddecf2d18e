import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runBase, type RunBase } from '../support/run-base.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'test/fixtures/apps/hello');
const BUILDER = join(ROOT, 'test/fixtures/builders/sample');

interface BuildJson {
  digest: string;
  layers: { name: string; digest: string; reused: boolean }[];
  uploaded: number;
}

describe.skipIf(!requireTools('docker-registry', 'apt-get', 'dpkg-deb'))('incremental builds (issue 3 acceptance)', () => {
  let registry: TestRegistry;
  let base: RunBase;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    [registry, base] = await Promise.all([startRegistry(), runBase()]);
  });
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** One "runner": its own LADING_HOME and app checkout. */
  const runner = () => {
    const dir = temp('lading-runner-');
    cpSync(APP, join(dir, 'app'), { recursive: true });
    return {
      app: join(dir, 'app'),
      build: async (ref: string, cacheImage: string) => {
        const r = await lading(['build', ref, '-p', join(dir, 'app'), '-B', BUILDER, '--run-image', base.reference, '--publish', '--cache-image', cacheImage, '--json'], { LADING_HOME: join(dir, 'home') });
        expect(r.code, r.stderr).toBe(0);
        return { json: r.json<BuildJson>(), log: r.stderr };
      },
    };
  };

  it('a no-op rebuild uploads no blob and reuses every layer; one changed file re-uploads only the app layer; a second runner restores from --cache-image', async () => {
    const ref = `${registry.host}/incremental/app:latest`;
    const cache = `${registry.host}/incremental/cache:latest`;
    const first = runner();
    const cold = await first.build(ref, cache);
    expect(cold.log).toContain('hello: cache empty');
    expect(cold.json.uploaded).toBeGreaterThan(0);

    const noop = await first.build(ref, cache);
    expect(noop.json.digest).toBe(cold.json.digest);
    expect(noop.json.uploaded).toBe(0);
    expect(noop.json.layers.every((l) => l.reused)).toBe(true);
    expect(noop.log).toContain('hello: cache restored: stamp-v1');

    writeFileSync(join(first.app, 'hello.txt'), 'changed\n');
    const changed = await first.build(ref, cache);
    expect(changed.json.digest).not.toBe(cold.json.digest);
    expect(changed.json.layers.filter((l) => !l.reused).map((l) => l.name)).toEqual(['app']);
    expect(changed.json.uploaded).toBe(2); // the app layer and the config

    // A throwaway CI runner: no cache dir, no local store, the same cache image.
    const second = runner();
    const fresh = await second.build(`${registry.host}/incremental/other:latest`, cache);
    expect(fresh.log).toContain('hello: cache restored: stamp-v1');
  });

  it('--cache-dir: the cold build keeps its cache layers unpacked, so the first rebuild moves them back instead of unpacking', async () => {
    const dir = temp('lading-cache-dir-');
    cpSync(APP, join(dir, 'app'), { recursive: true });
    const ref = `${registry.host}/incremental/cache-dir:latest`;
    const build = async () => {
      const r = await lading(['build', ref, '-p', join(dir, 'app'), '-B', BUILDER, '--run-image', base.reference, '--publish', '--cache-dir', join(dir, 'cache'), '--json'], { LADING_HOME: join(dir, 'home') });
      expect(r.code, r.stderr).toBe(0);
      return r.json<BuildJson>();
    };
    const cold = await build();
    const kept = readdirSync(join(dir, 'cache', 'trees')).sort();
    // one unpacked copy (with its recorded state and directory listing) per cache layer with contents, e.g. the provider's runtime
    const copies = kept.filter((n) => !n.includes('.'));
    expect(copies.length).toBeGreaterThanOrEqual(1);
    expect(kept).toEqual(copies.flatMap((n) => [n, `${n}.listing`, `${n}.state`]).sort());
    const noop = await build();
    expect(noop.digest).toBe(cold.digest);
    expect(noop.uploaded).toBe(0);
    expect(noop.layers.every((l) => l.reused)).toBe(true);
    // moved back and kept again by the rebuild
    expect(readdirSync(join(dir, 'cache', 'trees')).sort()).toEqual(kept);
  });
});

