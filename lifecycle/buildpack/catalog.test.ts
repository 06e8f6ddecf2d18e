import { chmod, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildpackCatalog, loadBuildpackCatalog } from './catalog.js';
import { parseBuildpackDescriptor } from './descriptor.js';

const FIXTURES = resolve(import.meta.dirname, '../../test/fixtures/buildpacks');
const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

const desc = (id: string, version: string, file = `/bp/${id}/${version}/buildpack.toml`) =>
  parseBuildpackDescriptor(`api = "0.12"\n[buildpack]\nid = "${id}"\nversion = "${version}"\n`, file, '/bp');

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('buildpack.md: buildpack.toml — a catalog of buildpacks', () => {
  it('loads every buildpack below a directory', async () => {
    const catalog = await loadBuildpackCatalog([join(FIXTURES, 'bash')]);
    const ids = catalog.list().map((b) => `${b.info.id}@${b.info.version}`);
    expect(ids).toEqual([
      'fixtures/build-fails@0.1.0',
      'fixtures/builder-marker@1.0.0',
      'fixtures/clear-env@0.1.0',
      'fixtures/composite@1.0.0',
      'fixtures/consumer@1.0.0',
      'fixtures/either@2.0.0',
      'fixtures/env-reporter@0.1.0',
      'fixtures/erroring@0.1.0',
      'fixtures/failing@0.1.0',
      'fixtures/hostile@0.6.6',
      'fixtures/launch-tool@0.1.0',
      'fixtures/provider@1.0.0',
      'fixtures/run-image-flavor@0.1.0',
      'fixtures/sbom-undeclared@0.1.0',
      'fixtures/version-key@0.1.0',
    ]);
    expect(catalog.findBuildpack('fixtures/provider').dir).toBe(join(FIXTURES, 'bash', 'provider'));
  });

  it('loads a single buildpack directory and the <id>/<version>/ layout', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lading-catalog-'));
    tmp.push(root);
    await cp(join(FIXTURES, 'bash', 'failing'), join(root, 'fixtures_failing', '0.1.0'), { recursive: true });
    const single = await loadBuildpackCatalog([join(FIXTURES, 'bash', 'failing')]);
    const layout = await loadBuildpackCatalog([root]);
    expect(single.findBuildpack('fixtures/failing').info.version).toBe('0.1.0');
    expect(layout.findBuildpack('fixtures/failing', '0.1.0').dir).toBe(join(root, 'fixtures_failing', '0.1.0'));
  });

  it('picks the highest version when none is given, and the exact one when it is', () => {
    const catalog = new BuildpackCatalog([desc('a', '1.2.0'), desc('a', '1.10.0'), desc('a', '1.9.9')]);
    expect(catalog.findBuildpack('a').info.version).toBe('1.10.0');
    expect(catalog.findBuildpack('a', '1.2.0').info.version).toBe('1.2.0');
  });

  it('names the unknown id and the available ones', () => {
    const catalog = new BuildpackCatalog([desc('b', '1.0.0'), desc('a', '1.0.0')]);
    expect(() => catalog.findBuildpack('c')).toThrow(expect.objectContaining({ code: 'NOT_FOUND', message: 'buildpack c not found (available: a, b)' }));
    expect(() => catalog.findBuildpack('a', '2.0.0')).toThrow('buildpack a@2.0.0 not found (available versions: 1.0.0)');
    expect(() => new BuildpackCatalog([]).findBuildpack('a')).toThrow('buildpack a not found (no buildpacks are available)');
  });

  it('refuses ids that differ only by case, and duplicate id@version', () => {
    expect(() => new BuildpackCatalog([desc('Acme/a', '1.0.0'), desc('acme/a', '1.0.0')])).toThrow('differs from "Acme/a" only by case');
    expect(() => new BuildpackCatalog([desc('a', '1.0.0', '/one/buildpack.toml'), desc('a', '1.0.0', '/two/buildpack.toml')])).toThrow(
      '/two/buildpack.toml: buildpack a@1.0.0 is also defined by /one/buildpack.toml',
    );
  });

  it('refuses a component buildpack without an executable bin/build', async () => {
    const e = await rejection(loadBuildpackCatalog([join(FIXTURES, 'invalid', 'no-build')]));
    expect(e.code).toBe('CONTENT_INVALID');
    expect(e.message).toBe(
      `${join(FIXTURES, 'invalid', 'no-build', 'bin', 'build')}: missing; component buildpack fixtures/no-build@0.1.0 needs bin/detect and bin/build`,
    );
    const root = await mkdtemp(join(tmpdir(), 'lading-catalog-'));
    tmp.push(root);
    await cp(join(FIXTURES, 'bash', 'failing'), root, { recursive: true });
    await chmod(join(root, 'bin', 'build'), 0o644);
    expect((await rejection(loadBuildpackCatalog([root]))).message).toContain('bin/build: not executable');
  });

  it('reports an unsupported API and a malformed buildpack.toml with the file', async () => {
    const old = await rejection(loadBuildpackCatalog([join(FIXTURES, 'invalid', 'old-api')]));
    expect(old.code).toBe('BUILDPACK_API');
    expect(old.message).toBe(`${join(FIXTURES, 'invalid', 'old-api', 'buildpack.toml')}: Buildpack API 0.9 is not supported; lading supports Buildpack API 0.10 to 0.12`);
    const bad = await rejection(loadBuildpackCatalog([join(FIXTURES, 'invalid', 'bad-toml')]));
    expect(bad.message).toMatch(/bad-toml\/buildpack\.toml:5: invalid TOML/);
  });

  it('says when a directory holds no buildpack', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lading-catalog-'));
    tmp.push(root);
    await mkdir(join(root, 'empty'));
    expect((await rejection(loadBuildpackCatalog([root]))).message).toBe(`${root}: no buildpack.toml found in this directory or below it`);
    expect((await rejection(loadBuildpackCatalog([join(root, 'missing')]))).code).toBe('NOT_FOUND');
  });
});
