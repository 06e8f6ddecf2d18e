import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';
import { nodeRunImage } from './node-stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const JAVA_BP = join(ROOT, 'buildpacks/java');
const APPS = join(ROOT, 'test/fixtures/apps');
/** Debian's JDK on the test machine (scripts/setup-system installs openjdk-17-jdk-headless). */
const HOST_JDK = '/usr/lib/jvm/java-17-openjdk-amd64';

const sha256Of = (file: string) =>
  new Promise<string>((done, fail) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (b) => h.update(b)).on('end', () => done(h.digest('hex'))).on('error', fail);
  });

/**
 * A JDK tarball laid out like the common vendor builds (`jdk-<version>/bin/javac`, `jmods/`, `release`), made
 * from Debian's JDK: Debian's links into /etc and /usr/share are followed (`tar -h`) so the tarball is
 * self-contained; the sources (src.zip, a dangling link on Debian), docs and man pages are left out.
 */
async function jdkTarball(dir: string): Promise<{ uri: string; sha256: string; version: string }> {
  const release = readFileSync(join(HOST_JDK, 'release'), 'utf8');
  const version = /^JAVA_RUNTIME_VERSION="(\d+\.\d+\.\d+(?:\.\d+)?\+\d+)/m.exec(release)?.[1] ?? /^JAVA_VERSION="([^"]+)"/m.exec(release)?.[1];
  if (!version) throw new Error(`${HOST_JDK}/release names no JAVA_VERSION`);
  const top = `jdk-${version}`;
  const stage = join(dir, 'stage');
  mkdirSync(stage);
  symlinkSync(realpathSync(HOST_JDK), join(stage, top));
  const file = join(dir, `${top}.tar.gz`);
  execFileSync('tar', ['-c', '-h', '-I', 'gzip -1', '-f', file, `--exclude=${top}/lib/src.zip`, `--exclude=${top}/docs`, `--exclude=${top}/man`, '-C', stage, top], { stdio: 'pipe' });
  return { uri: pathToFileURL(file).href, sha256: await sha256Of(file), version };
}

/** Issue 8: the JDK from a catalog (URL + sha256) instead of apt — one build, run under runc. */
describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb', 'tar', 'gzip'))('Java buildpack: a catalog JDK (BP_JVM_DIST_URI + BP_JVM_DIST_SHA256)', () => {
  let registry: TestRegistry;
  let runBase: string;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    [registry, runBase] = await Promise.all([startRegistry(), nodeRunImage()]);
  }, 300_000);
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the Maven fixture built with a JDK tarball served as file: (verified, cached, extracted, used for Maven, jdeps and jlink), runs under runc as uid 1000 without javac; the SBOM records the URL, sha256, purl and CPE', async () => {
    if (!existsSync(join(HOST_JDK, 'jmods', 'java.base.jmod'))) throw new Error(`${HOST_JDK} has no jmods: install openjdk-17-jdk-headless (scripts/setup-system)`);
    const dist = await jdkTarball(temp('lading-java-dist-'));
    const plain = dist.version.replace(/\+.*$/, '');

    // A maven binding, as Paketo users give settings.xml: offline, Debian's Maven plugins as the repository.
    const binding = join(temp('lading-java-bindings-'), 'maven-settings');
    mkdirSync(binding);
    writeFileSync(join(binding, 'type'), 'maven\n');
    writeFileSync(join(binding, 'settings.xml'), '<settings>\n  <offline>true</offline>\n  <localRepository>/usr/share/maven-repo</localRepository>\n</settings>\n');
    const app = join(temp('lading-java-app-'), 'java-maven-http');
    cpSync(join(APPS, 'java-maven-http'), app, { recursive: true });

    const ref = `${registry.host}/java/catalog:v1`;
    const cache = temp('lading-java-catalog-cache-');
    const sbomDir = temp('lading-java-sbom-');
    const r = await lading(
      [
        'build', ref, '-p', app, '-b', JAVA_BP, '--run-image', runBase, '--publish', '--cache-dir', cache,
        '--volume', `${binding}:/platform/bindings/maven-settings:ro`,
        '-e', `BP_JVM_DIST_URI=${dist.uri}`, '-e', `BP_JVM_DIST_SHA256=${dist.sha256}`,
        '--sbom-output-dir', sbomDir, '--json',
      ],
      { LADING_HOME: join(cache, 'home'), SOURCE_DATE_EPOCH: undefined },
    );
    const log = r.stdout.startsWith('{') ? r.stderr : r.stderr + r.stdout;
    expect(r.code, log).toBe(0);
    expect(log).toContain(`Java ${dist.version} (${dist.uri}) from catalog (pom.xml maven.compiler.release 17: 17.x)`);
    expect(log).toContain(`Downloading jdk ${dist.version} (catalog: ${dist.uri})`);
    expect(log).not.toContain('openjdk-17-jdk-headless'); // apt's JDK is neither resolved nor downloaded
    expect(log).toContain('[INFO] BUILD SUCCESS');
    expect(log).toMatch(/jlink --add-modules [\w.,]*jdk\.httpserver/);

    // The image runs on the runtime jlink'd from the catalog JDK.
    const layout = temp('lading-java-pulled-');
    const copied = await lading(['copy', `docker://${ref}`, `oci:${layout}:app`]);
    expect(copied.code, copied.stderr).toBe(0);
    const c = await runImage(layout, 'app');
    let answer: string;
    let javac: string[];
    try {
      answer = await c.fetch('/');
      const rootfs = join(c.bundle, 'rootfs');
      javac = readdirSync(rootfs, { recursive: true, withFileTypes: true })
        .filter((e) => e.name === 'javac' || e.name === 'jdk.compiler.jmod' || e.name === 'jlink')
        .map((e) => relative(rootfs, join(e.parentPath, e.name)));
      expect(c.config.process.user).toMatchObject({ uid: 1000, gid: 1000 });
      expect(c.config.process.args).toEqual(['/layers/lading_java/jre/bin/java', '-jar', '/workspace/java-maven-http-1.0.0.jar']);
    } finally {
      await c.stop();
    }
    expect(answer).toContain('hello from java-maven-http');
    expect(answer).toContain('uid=1000');
    expect(answer).toContain('java.home=/layers/lading_java/jre');
    expect(answer).toContain(`java.version=${plain}`);
    expect(javac).toEqual([]);

    // SBOM: the build's JDK is the catalog file (URL, sha256, purl, CPE); the runtime carries its purl and CPE.
    const find = (part: string, file: string) => {
      const base = join(sbomDir, part);
      for (const e of readdirSync(base, { recursive: true, withFileTypes: true })) {
        const p = join(e.parentPath, e.name);
        if (e.isFile() && p.includes('lading_java') && relative(base, p).endsWith(file)) return readFileSync(p, 'utf8');
      }
      throw new Error(`no ${file} under ${base}`);
    };
    const purl = `pkg:generic/jdk@${encodeURIComponent(dist.version)}?download_url=${encodeURIComponent(dist.uri)}`;
    const cpe = `cpe:2.3:a:oracle:openjdk:${plain}:*:*:*:*:*:*:*`;
    const build = JSON.parse(find('build', 'lading_java/sbom.cdx.json')) as { components: { name: string; version: string; purl?: string; cpe?: string; hashes?: { alg: string; content: string }[]; externalReferences?: { url: string }[] }[] };
    const jdk = build.components.find((x) => x.name === 'jdk');
    expect(jdk, JSON.stringify(build.components)).toMatchObject({ version: dist.version, purl, cpe });
    expect(JSON.stringify(jdk?.hashes)).toContain(dist.sha256);
    expect(JSON.stringify(jdk)).toContain(dist.uri);
    expect(build.components.some((x) => x.purl?.startsWith('pkg:deb/debian/openjdk-'))).toBe(false);
    const spdx = find('build', 'lading_java/sbom.spdx.json');
    expect(spdx).toContain(`"downloadLocation": "${dist.uri}"`);
    const jre = find('launch', 'jre/sbom.cdx.json');
    expect(jre).toContain(`"purl": "${purl}"`);
    expect(jre).toContain(`"cpe": "${cpe}"`);
  }, 900_000);
});
