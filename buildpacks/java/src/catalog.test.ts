import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Layers, Logger, type CatalogEntry } from '../../lib/index.js';
import { catalogJdk, findJdkRoot, jdkCatalog, jdkSemver, jvmSourceKind, resolveCatalogJdk, versionFromFileName } from './catalog.js';
import { resolveJdk } from './jdk.js';

const dirs: string[] = [];
const temp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sha = 'c'.repeat(64);
const entry = (version: string): CatalogEntry => ({ name: 'jdk', version, uri: `file:///m/jdk-${version}.tar.gz`, sha256: sha });

describe('JDK catalog entries', () => {
  it('read the version from the usual JDK tarball names', () => {
    expect(versionFromFileName('jdk-17.0.13+11.tar.gz')).toBe('17.0.13+11');
    expect(versionFromFileName('OpenJDK17U-jdk_x64_linux_hotspot_17.0.13_11.tar.gz')).toBe('17.0.13+11');
    expect(versionFromFileName('openjdk-21.0.2_linux-x64_bin.tar.gz')).toBe('21.0.2');
    expect(versionFromFileName('zulu17.52.17-ca-jdk17.0.12-linux_x64.tar.gz')).toBe('17.52.17');
    expect(versionFromFileName('jdk-21_linux-x64_bin.tar.gz')).toBeUndefined();
    expect(jdkSemver('17.0.21.1+2')).toBe('17.0.21');
    expect(jdkSemver('17.0.13+11')).toBe('17.0.13');
    expect(jdkSemver('latest')).toBeNull();
  });

  it('come from buildpack.toml ([[metadata.dependencies]] id "jdk") and BP_JVM_DIST_URI/SHA256', () => {
    const metadata = {
      dependencies: [
        { id: 'jdk', version: '21.0.4+7', uri: 'file:///m/jdk21.tgz', sha256: sha, purl: 'pkg:generic/openjdk@21.0.4%2B7', cpes: ['cpe:2.3:a:oracle:jdk:21.0.4:*:*:*:*:*:*:*'], licenses: [{ type: 'GPL-2.0-only WITH Classpath-exception-2.0' }] },
        { id: 'go', version: '1.22.0', uri: 'file:///g', sha256: sha },
      ],
    };
    expect(jdkCatalog(metadata, {})).toEqual([
      { name: 'jdk', version: '21.0.4+7', uri: 'file:///m/jdk21.tgz', sha256: sha, purl: 'pkg:generic/openjdk@21.0.4%2B7', cpe: 'cpe:2.3:a:oracle:jdk:21.0.4:*:*:*:*:*:*:*', licenses: ['GPL-2.0-only WITH Classpath-exception-2.0'] },
    ]);
    const withEnv = jdkCatalog(metadata, { uri: 'https://mirror.invalid/dl/OpenJDK17U-jdk_x64_linux_hotspot_17.0.13_11.tar.gz', sha256: sha.toUpperCase() });
    expect(withEnv.map((e) => e.version)).toEqual(['17.0.13+11', '21.0.4+7']);
    expect(withEnv[0]).toMatchObject({ name: 'jdk', sha256: sha, licenses: ['GPL-2.0-only WITH Classpath-exception-2.0'] });
    expect(jdkCatalog({}, { uri: 'file:///srv/mirror/java.tar.gz', sha256: sha, version: '17.0.13' })[0]?.version).toBe('17.0.13');
  });

  it('refuses half a setting, a bad sha256, an unknown scheme, a version it cannot tell and a catalog version that is not one', () => {
    expect(() => jdkCatalog({}, { uri: 'file:///x/jdk-17.0.13+11.tar.gz' })).toThrow('BP_JVM_DIST_URI and BP_JVM_DIST_SHA256 go together');
    expect(() => jdkCatalog({}, { sha256: sha })).toThrow('go together');
    expect(() => jdkCatalog({}, { uri: 'file:///x/jdk-17.0.13+11.tar.gz', sha256: 'abc' })).toThrow('hex sha256');
    expect(() => jdkCatalog({}, { uri: 'ftp://h/jdk-17.0.13+11.tar.gz', sha256: sha })).toThrow('unsupported scheme ftp:');
    expect(() => jdkCatalog({}, { uri: 'jdk.tar.gz', sha256: sha })).toThrow('not a URL');
    expect(() => jdkCatalog({}, { uri: 'file:///x/java.tar.gz', sha256: sha, version: '17' })).toThrow(/cannot tell the JDK version .* set BP_JVM_VERSION to the exact version/);
    expect(() => jdkCatalog({ dependencies: [{ id: 'jdk', version: 'seventeen', uri: 'file:///j', sha256: sha }] }, {})).toThrow('has version "seventeen", not a JDK version');
  });

  it('the source: BP_JVM_SOURCE, else catalog when it has entries, else apt', () => {
    expect(jvmSourceKind(undefined, [])).toBe('apt');
    expect(jvmSourceKind('', [entry('17.0.13+11')])).toBe('catalog');
    expect(jvmSourceKind('APT', [entry('17.0.13+11')])).toBe('apt');
    expect(() => jvmSourceKind('catalog', [])).toThrow(/BP_JVM_SOURCE=catalog but there is no catalog entry/);
    expect(() => jvmSourceKind('sdkman', [])).toThrow('BP_JVM_SOURCE=sdkman: must be apt or catalog');
  });

  it('resolves the newest version satisfying the request; when none does, lists what the catalog has', async () => {
    const catalog = [entry('21.0.4+7'), entry('17.0.9+9'), entry('17.0.13+11'), entry('11.0.25+9')];
    expect(resolveCatalogJdk({ constraint: '17.x', source: 'pom.xml maven.compiler.release 17' }, catalog)).toBe('17.0.13+11');
    expect(resolveCatalogJdk({ constraint: '17.0.9', source: 'BP_JVM_VERSION 17.0.9' }, catalog)).toBe('17.0.9+9');
    expect(resolveCatalogJdk({ constraint: '*', source: 'buildpack default' }, catalog)).toBe('21.0.4+7');
    let message = '';
    try {
      resolveCatalogJdk({ constraint: '8.x', source: '.java-version 1.8' }, catalog);
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code?: string }).code).toBe('DEPENDENCY_UNRESOLVED');
    }
    expect(message).toContain('"8.x" (from .java-version 1.8)');
    expect(message).toContain('The catalog has: 11.0.25+9, 17.0.9+9, 17.0.13+11, 21.0.4+7');
    expect(message).toContain('BP_JVM_DIST_URI');
    // resolveJdk takes the catalog by default when it has entries, and never asks apt then.
    await expect(resolveJdk({ constraint: '8.x', source: '.java-version 1.8' }, { catalog, env: { PATH: '/nonexistent' } })).rejects.toThrow('The catalog has: 11.0.25+9');
    const jdk = await resolveJdk({ constraint: '17', source: 'BP_JVM_VERSION 17' }, { catalog, env: { PATH: '/nonexistent' } });
    expect(jdk).toMatchObject({ source: 'catalog', feature: 17, version: '17.0.13+11', origin: 'file:///m/jdk-17.0.13+11.tar.gz', key: { source: 'catalog', version: '17.0.13+11', checksums: [`sha256:${sha}`] } });
    expect(jdk.cpe).toBe('cpe:2.3:a:oracle:openjdk:17.0.13:*:*:*:*:*:*:*');
    expect(jdk.purl).toBe(`pkg:generic/jdk@17.0.13%2B11?download_url=${encodeURIComponent('file:///m/jdk-17.0.13+11.tar.gz')}`);
    expect(jdk.components).toEqual([
      { name: 'jdk', version: '17.0.13+11', type: 'application', purl: jdk.purl, cpe: jdk.cpe, licenses: ['GPL-2.0-only WITH Classpath-exception-2.0'], hashes: { sha256: sha }, downloadLocation: 'file:///m/jdk-17.0.13+11.tar.gz' },
    ]);
  });
});

/** A stand-in JDK tree: bin/java answering `-version`, javac, jdeps, jlink, jmods/java.base.jmod, `release`. */
function fakeJdk(root: string, version: string, o: { release?: boolean; jmods?: boolean } = {}): void {
  mkdirSync(join(root, 'bin'), { recursive: true });
  for (const tool of ['javac', 'jdeps', 'jlink']) writeFileSync(join(root, 'bin', tool), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  writeFileSync(join(root, 'bin', 'java'), `#!/bin/sh\necho 'openjdk version "${version}" 2024-10-15' >&2\n`, { mode: 0o755 });
  chmodSync(join(root, 'bin', 'java'), 0o755);
  if (o.jmods !== false) {
    mkdirSync(join(root, 'jmods'), { recursive: true });
    writeFileSync(join(root, 'jmods', 'java.base.jmod'), 'JM');
  }
  mkdirSync(join(root, 'lib'), { recursive: true });
  writeFileSync(join(root, 'lib', 'src.zip'), 'sources');
  if (o.release !== false) writeFileSync(join(root, 'release'), `IMPLEMENTOR="Test"\nJAVA_VERSION="${version}"\n`);
}

function tarball(dir: string, name: string, top: string): { uri: string; sha256: string; file: string } {
  const file = join(dir, name);
  execFileSync('tar', ['-czf', file, '-C', dir, top]);
  return { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(readFileSync(file)).digest('hex'), file };
}

describe('a catalog JDK', () => {
  const context = () => {
    const layersDir = temp('lading-java-layers-');
    const out: string[] = [];
    const sink = { write: (s: string) => void out.push(s) };
    return { layers: new Layers(layersDir, { buildpack: { id: 'lading/java', version: '0.1.0', sbomFormats: [] } }), logger: new Logger({ stdout: sink, stderr: sink }), log: () => out.join('') };
  };

  it('finds the root by bin/javac (nested or at the top) and says so when there is none', async () => {
    const dir = temp('lading-java-root-');
    mkdirSync(join(dir, 'docs', 'bin'), { recursive: true });
    fakeJdk(join(dir, 'jdk-17.0.13+11', 'Contents', 'Home'), '17.0.13');
    expect(await findJdkRoot(dir, 'file:///x.tgz')).toBe(join(dir, 'jdk-17.0.13+11', 'Contents', 'Home'));
    const flat = temp('lading-java-root-');
    fakeJdk(flat, '17.0.13');
    expect(await findJdkRoot(flat, 'file:///x.tgz')).toBe(flat);
    const jre = temp('lading-java-root-');
    mkdirSync(join(jre, 'jre-17', 'bin'), { recursive: true });
    await expect(findJdkRoot(jre, 'file:///jre.tgz')).rejects.toThrow('file:///jre.tgz: no bin/javac in the archive');
  });

  it('is verified, cached in download-jdk, extracted with its root made the JDK layer, and checked', async () => {
    const dir = temp('lading-java-dist-');
    fakeJdk(join(dir, 'jdk-17.0.13+11'), '17.0.13');
    const t = tarball(dir, 'jdk-17.0.13+11.tar.gz', 'jdk-17.0.13+11');
    const ctx = context();
    const jdk = await resolveJdk({ constraint: '17.x', source: 'pom.xml' }, { catalog: jdkCatalog({}, { uri: t.uri, sha256: t.sha256 }), env: {} });
    await jdk.fetch(ctx.layers, ctx.logger);
    expect(ctx.log()).toContain(`Downloading jdk 17.0.13+11 (catalog: ${t.uri})`);
    expect(existsSync(join(ctx.layers.dir, 'download-jdk', 'jdk-17.0.13+11.tar.gz'))).toBe(true);
    const layer = await ctx.layers.layer('jdk', { build: true, cache: true });
    await layer.reset();
    const home = await jdk.install(layer, { cacheDir: temp('lading-java-debs-'), logger: ctx.logger });
    expect(home).toBe(layer.path);
    expect(existsSync(join(home, 'bin', 'javac'))).toBe(true);
    expect(existsSync(join(home, 'jmods', 'java.base.jmod'))).toBe(true);
    expect(existsSync(join(home, 'lib', 'src.zip'))).toBe(false);
    expect(existsSync(join(home, '.extract'))).toBe(false);
    expect(jdk.components[0]).toMatchObject({ name: 'jdk', version: '17.0.13+11', hashes: { sha256: t.sha256 }, downloadLocation: t.uri, licenses: ['GPL-2.0-only WITH Classpath-exception-2.0'] });
  });

  it('a later build reuses the verified download in download-jdk (no second download)', async () => {
    const dir = temp('lading-java-dist-');
    fakeJdk(join(dir, 'jdk-17.0.13+11'), '17.0.13');
    const t = tarball(dir, 'jdk-17.0.13+11.tar.gz', 'jdk-17.0.13+11');
    const catalog = jdkCatalog({}, { uri: t.uri, sha256: t.sha256 });
    const first = context();
    await (await resolveJdk({ constraint: '17', source: 'x' }, { catalog, env: {} })).fetch(first.layers, first.logger);
    await first.layers.writeLayerTomls();
    rmSync(t.file); // the source is gone: only the cached copy can serve
    const next = { ...context(), layers: new Layers(first.layers.dir, { buildpack: { id: 'lading/java', version: '0.1.0', sbomFormats: [] } }) };
    const jdk = await resolveJdk({ constraint: '17', source: 'x' }, { catalog, env: {} });
    await jdk.fetch(next.layers, next.logger);
    expect(next.log()).not.toContain('Downloading');
    const layer = await next.layers.layer('jdk', { build: true, cache: true });
    await layer.reset();
    expect(existsSync(join(await jdk.install(layer, { cacheDir: temp('lading-java-debs-'), logger: next.logger }), 'bin', 'javac'))).toBe(true);
  });

  it('a checksum mismatch names the URL and both digests', async () => {
    const dir = temp('lading-java-dist-');
    fakeJdk(join(dir, 'jdk-17.0.13+11'), '17.0.13');
    const t = tarball(dir, 'jdk-17.0.13+11.tar.gz', 'jdk-17.0.13+11');
    const ctx = context();
    const jdk = await resolveJdk({ constraint: '17', source: 'BP_JVM_VERSION 17' }, { catalog: jdkCatalog({}, { uri: t.uri, sha256: sha }), env: {} });
    const err = await jdk.fetch(ctx.layers, ctx.logger).catch((e: unknown) => e as Error & { code?: string });
    expect(err).toBeInstanceOf(Error);
    expect(err?.code).toBe('DEPENDENCY_INTEGRITY');
    expect(err?.message).toContain(t.uri);
    expect(err?.message).toContain(sha);
    expect(err?.message).toContain(t.sha256);
  });

  it('refuses an archive whose Java is not the catalog version, or that has no jmods', async () => {
    const dir = temp('lading-java-dist-');
    fakeJdk(join(dir, 'jdk-17.0.14+7'), '17.0.12', { release: false });
    const wrong = tarball(dir, 'jdk-17.0.14+7.tar.gz', 'jdk-17.0.14+7');
    fakeJdk(join(dir, 'jdk-17.0.13+11'), '17.0.13', { jmods: false });
    const noJmods = tarball(dir, 'jdk-17.0.13+11.tar.gz', 'jdk-17.0.13+11');
    for (const [t, message] of [
      [wrong, `${wrong.uri}: the catalog says JDK 17.0.14+7, but the archive holds Java 17.0.12`],
      [noJmods, `${noJmods.uri}: the JDK has no jmods/java.base.jmod`],
    ] as const) {
      const ctx = context();
      const jdk = await resolveJdk({ constraint: '17', source: 'BP_JVM_VERSION 17' }, { catalog: jdkCatalog({}, { uri: t.uri, sha256: t.sha256 }), env: {} });
      await jdk.fetch(ctx.layers, ctx.logger);
      const layer = await ctx.layers.layer('jdk', { build: true, cache: true });
      await layer.reset();
      await expect(jdk.install(layer, { cacheDir: temp('lading-java-debs-'), logger: ctx.logger })).rejects.toThrow(message);
    }
  });
});

it('catalogJdk takes only jdk entries', async () => {
  await expect(catalogJdk({ constraint: '17', source: 'x' }, [{ ...entry('17.0.13+11'), name: 'go' }])).rejects.toThrow('The catalog has: nothing');
});
