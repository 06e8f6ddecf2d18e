import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';
import { nodeRunImage } from './node-stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const JAVA_BP = join(ROOT, 'buildpacks/java');
const APPS = join(ROOT, 'test/fixtures/apps');
/** JAR entries get this time, so the test's JARs are the same bytes on every run. */
const JAR_DATE = '1980-01-01T00:00:02Z';

interface BuildJson {
  digest: string;
  layers: { name: string; diffId: string; reused: boolean }[];
  uploaded: number;
}

/** Every .java file under `dir`, sorted. */
function javaFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.java'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

const run = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { stdio: 'pipe', ...(cwd ? { cwd } : {}) });

/** The prebuilt executable JAR (test/fixtures/apps/java-jar), compiled with the host JDK into `<dir>/java-jar.jar`. */
function buildExecutableJar(dir: string, work: string): string {
  const classes = join(work, 'jar-classes');
  run('javac', ['--release', '17', '-d', classes, ...javaFiles(join(APPS, 'java-jar', 'src'))]);
  mkdirSync(dir, { recursive: true });
  run('jar', ['--create', `--date=${JAR_DATE}`, '--file', join(dir, 'java-jar.jar'), '--main-class', 'com.example.jar.App', '-C', classes, '.']);
  return dir;
}

/**
 * A Spring Boot-style layered JAR from test/fixtures/apps/java-boot: BOOT-INF/classes (the app), BOOT-INF/lib
 * (greeting-1.0.0.jar with Maven metadata), BOOT-INF/layers.idx and Start-Class. `version` rewrites one class.
 */
function buildBootJar(dir: string, work: string, version = 'v1'): string {
  const src = join(work, 'boot-src');
  rmSync(src, { recursive: true, force: true });
  cpSync(join(APPS, 'java-boot'), src, { recursive: true });
  const versionFile = join(src, 'app/com/example/boot/Version.java');
  writeFileSync(versionFile, readFileSync(versionFile, 'utf8').replace('"v1"', `"${version}"`));
  const lib = join(work, 'boot-lib');
  rmSync(lib, { recursive: true, force: true });
  run('javac', ['--release', '17', '-d', lib, ...javaFiles(join(src, 'lib'))]);
  const meta = join(lib, 'META-INF/maven/com.example/greeting');
  mkdirSync(meta, { recursive: true });
  writeFileSync(join(meta, 'pom.properties'), 'artifactId=greeting\ngroupId=com.example\nversion=1.0.0\n');
  writeFileSync(join(meta, 'pom.xml'), '<project><groupId>com.example</groupId><artifactId>greeting</artifactId><version>1.0.0</version><licenses><license><name>MIT</name></license></licenses></project>\n');
  const tree = join(work, 'boot-tree');
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(join(tree, 'BOOT-INF/lib'), { recursive: true });
  run('jar', ['--create', `--date=${JAR_DATE}`, '--file', join(tree, 'BOOT-INF/lib/greeting-1.0.0.jar'), '-C', lib, '.']);
  run('javac', ['--release', '17', '-cp', join(tree, 'BOOT-INF/lib/greeting-1.0.0.jar'), '-d', join(tree, 'BOOT-INF/classes'), ...javaFiles(join(src, 'app'))]);
  writeFileSync(join(tree, 'BOOT-INF/classpath.idx'), '- "BOOT-INF/lib/greeting-1.0.0.jar"\n');
  writeFileSync(
    join(tree, 'BOOT-INF/layers.idx'),
    '- "dependencies":\n  - "BOOT-INF/lib/"\n- "spring-boot-loader":\n  - "org/"\n- "snapshot-dependencies":\n- "application":\n  - "BOOT-INF/classes/"\n  - "BOOT-INF/classpath.idx"\n  - "BOOT-INF/layers.idx"\n  - "META-INF/"\n',
  );
  const manifest = join(work, 'boot-manifest.mf');
  writeFileSync(manifest, 'Main-Class: org.springframework.boot.loader.JarLauncher\nStart-Class: com.example.boot.App\nSpring-Boot-Classes: BOOT-INF/classes/\nSpring-Boot-Lib: BOOT-INF/lib/\nSpring-Boot-Classpath-Index: BOOT-INF/classpath.idx\nSpring-Boot-Layers-Index: BOOT-INF/layers.idx\n');
  mkdirSync(dir, { recursive: true });
  run('jar', ['--create', `--date=${JAR_DATE}`, '--file', join(dir, 'java-boot.jar'), '--manifest', manifest, '-C', tree, '.']);
  return dir;
}

/** Issue 8 acceptance: Maven projects and JARs → images on the real registry, run under runc on a jlink'd runtime. */
describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb', 'javac', 'jar'))('Java buildpack (issue 8 acceptance)', () => {
  let registry: TestRegistry;
  let runBase: string;
  let cache: string;
  let bindingRoot: string;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  /** The maven binding, given as pack users give it: `--volume DIR:/platform/bindings/NAME`. */
  const bindingFlags = () => ['--volume', `${join(bindingRoot, 'maven-settings')}:/platform/bindings/maven-settings:ro`];
  const checkout = (app: string) => {
    const d = join(temp('lading-java-app-'), app);
    cpSync(join(APPS, app), d, { recursive: true });
    return d;
  };
  const build = async (ref: string, app: string, extra: string[] = [], cacheDir = cache) => {
    const r = await lading(
      ['build', ref, '-p', app, '-b', JAVA_BP, '--run-image', runBase, '--publish', '--cache-dir', cacheDir, ...bindingFlags(), '--json', ...extra],
      { LADING_HOME: join(cacheDir, 'home'), SOURCE_DATE_EPOCH: undefined },
    );
    return { ...r, log: r.stdout.startsWith('{') ? r.stderr : r.stderr + r.stdout };
  };
  const pull = async (ref: string) => {
    const layout = temp('lading-java-pulled-');
    const r = await lading(['copy', `docker://${ref}`, `oci:${layout}:app`]);
    expect(r.code, r.stderr).toBe(0);
    return layout;
  };
  /** Runs the image's default process: its answer, its runtime config and whether any javac is in the root fs. */
  const serve = async (layout: string) => {
    const c = await runImage(layout, 'app');
    try {
      const answer = await c.fetch('/');
      const rootfs = join(c.bundle, 'rootfs');
      const javac = readdirSync(rootfs, { recursive: true, withFileTypes: true }).filter((e) => e.name === 'javac' || e.name === 'jdk.compiler.jmod' || e.name === 'jlink');
      return { answer, config: c.config, javac: javac.map((e) => relative(rootfs, join(e.parentPath, e.name))) };
    } finally {
      await c.stop();
    }
  };
  const sbom = (dir: string, part: string, file: string) => {
    const base = join(dir, part);
    for (const e of readdirSync(base, { recursive: true, withFileTypes: true })) {
      const p = join(e.parentPath, e.name);
      if (e.isFile() && p.includes('lading_java') && relative(base, p).replace(/\\/g, '/').endsWith(file)) return readFileSync(p, 'utf8');
    }
    throw new Error(`no ${file} under ${base}${existsSync(base) ? '' : ' (missing)'}`);
  };
  const changed = (a: BuildJson, b: BuildJson) => {
    const before = new Map(a.layers.map((l) => [l.name, l.diffId]));
    return b.layers.filter((l) => before.get(l.name) !== l.diffId).map((l) => l.name);
  };

  beforeAll(async () => {
    [registry, runBase] = await Promise.all([startRegistry(), nodeRunImage()]);
    // One cache for the file: the JDK and Maven packages are downloaded once.
    cache = temp('lading-java-cache-');
    // A `maven` service binding, as Paketo users supply settings.xml: offline, Debian's Maven plugins as the repository.
    bindingRoot = temp('lading-java-bindings-');
    const binding = join(bindingRoot, 'maven-settings');
    mkdirSync(binding);
    writeFileSync(join(binding, 'type'), 'maven\n');
    writeFileSync(join(binding, 'settings.xml'), '<settings>\n  <offline>true</offline>\n  <localRepository>/usr/share/maven-repo</localRepository>\n</settings>\n');
  }, 300_000);
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  let mavenDigest = '';

  it('Maven project: built with Debian\'s JDK and Maven (settings.xml from a maven binding), runs on a jlink\'d runtime as uid 1000 without javac; SBOM; a no-op rebuild runs no Maven and uploads nothing; one changed class re-uploads only the app layer', async () => {
    const ref = `${registry.host}/java/maven-http:v1`;
    const sbomDir = temp('lading-java-sbom-');
    const first = await build(ref, checkout('java-maven-http'), ['--sbom-output-dir', sbomDir]);
    expect(first.code, first.log).toBe(0);
    expect(first.log).toMatch(/Java 17\.\d+[\d.+]* \(Debian openjdk-17 [^)]+\) from apt \(pom\.xml maven\.compiler\.release 17: 17\.x\)/);
    expect(first.log).toContain('Maven settings from the service binding maven-settings');
    expect(first.log).toContain('--settings /platform/bindings/maven-settings/settings.xml');
    expect(first.log).toContain('[INFO] BUILD SUCCESS');
    expect(first.log).toMatch(/jlink --add-modules [\w.,]*jdk\.httpserver/);
    const firstJson = first.json<BuildJson>();
    mavenDigest = firstJson.digest;

    const layout = await pull(ref);
    const { answer, config, javac } = await serve(layout);
    expect(answer).toContain('hello from java-maven-http');
    expect(answer).toContain('uid=1000');
    expect(answer).toContain('java.home=/layers/lading_java/jre');
    expect(answer).toContain('-XX:MaxRAMPercentage=75.0');
    expect(config.process.user).toMatchObject({ uid: 1000, gid: 1000 });
    expect(config.process.args).toEqual(['/layers/lading_java/jre/bin/java', '-jar', '/workspace/java-maven-http-1.0.0.jar']);
    expect(config.process.env).toContain('JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0');
    expect(javac).toEqual([]);

    // SBOM: the runtime with its purl and CPE, the app from its pom.properties with the pom's licence, the JDK and Maven as Debian packages.
    const jre = sbom(sbomDir, 'launch', 'jre/sbom.cdx.json');
    expect(jre).toMatch(/"purl": "pkg:deb\/debian\/openjdk-17-jdk-headless@17\.[^"]+"/);
    expect(jre).toMatch(/"cpe": "cpe:2\.3:a:oracle:openjdk:17\.[\d.]+:\*/);
    const app = JSON.parse(sbom(sbomDir, 'launch', 'lading_java/sbom.cdx.json')) as { components: { name: string; purl?: string; licenses?: unknown[] }[] };
    const self = app.components.find((c) => c.purl === 'pkg:maven/com.example/java-maven-http@1.0.0');
    expect(self, JSON.stringify(app.components)).toBeDefined();
    expect(JSON.stringify(self?.licenses)).toContain('Apache-2.0');
    const buildSbom = sbom(sbomDir, 'build', 'lading_java/sbom.cdx.json');
    expect(buildSbom).toContain('pkg:deb/debian/maven@');
    expect(buildSbom).toContain('pkg:deb/debian/openjdk-17-jdk-headless@');

    // No-op rebuild from another checkout: Maven does not run, nothing is uploaded, same digest.
    const noop = await build(ref, checkout('java-maven-http'));
    expect(noop.code, noop.log).toBe(0);
    expect(noop.log).toContain('not running Maven');
    expect(noop.log).not.toContain('BUILD SUCCESS');
    expect(noop.json<BuildJson>().digest).toBe(mavenDigest);
    expect(noop.json<BuildJson>().uploaded).toBe(0);

    // One class changed: Maven runs, only the app layer differs (and is uploaded, with the config).
    const edited = checkout('java-maven-http');
    const greeting = join(edited, 'src/main/java/com/example/http/Greeting.java');
    writeFileSync(greeting, readFileSync(greeting, 'utf8').replace('hello from java-maven-http', 'hello again from java-maven-http'));
    const change = await build(ref, edited);
    expect(change.code, change.log).toBe(0);
    expect(change.log).toContain('BUILD SUCCESS');
    expect(changed(firstJson, change.json<BuildJson>())).toEqual(['app']);
    expect(change.json<BuildJson>().uploaded).toBe(2);
    expect((await serve(await pull(ref))).answer).toContain('hello again from java-maven-http');
  }, 600_000);

  it('Maven project from another directory with a fresh cache: the same digest', async () => {
    expect(mavenDigest).toMatch(/^sha256:/);
    const again = await build(`${registry.host}/java/maven-elsewhere:v1`, checkout('java-maven-http'), [], temp('lading-java-cache2-'));
    expect(again.code, again.log).toBe(0);
    expect(again.log).toContain('BUILD SUCCESS');
    expect(again.json<BuildJson>().digest).toBe(mavenDigest);
  }, 600_000);

  it('prebuilt executable JAR (compiled by the test with the host JDK): runs with java -jar as uid 1000, no javac', async () => {
    const ref = `${registry.host}/java/jar:v1`;
    const app = buildExecutableJar(join(temp('lading-java-jar-'), 'app'), temp('lading-java-work-'));
    const r = await build(ref, app);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain('Running java-jar.jar as it is (no build)');
    const { answer, config, javac } = await serve(await pull(ref));
    expect(answer).toContain('hello from java-jar');
    expect(answer).toContain('uid=1000');
    expect(config.process.args).toEqual(['/layers/lading_java/jre/bin/java', '-jar', '/workspace/java-jar.jar']);
    expect(javac).toEqual([]);
  }, 300_000);

  it('layered JAR (BOOT-INF/layers.idx, built by the test): exploded into slices, runs its Start-Class; a changed class re-uploads only the application layer', async () => {
    const ref = `${registry.host}/java/boot:v1`;
    const work = temp('lading-java-work-');
    const sbomDir = temp('lading-java-sbom-');
    const first = await build(ref, buildBootJar(join(temp('lading-java-boot-'), 'app'), work), ['--sbom-output-dir', sbomDir]);
    expect(first.code, first.log).toBe(0);
    expect(first.log).toContain('BOOT-INF/layers.idx');
    const firstJson = first.json<BuildJson>();
    expect(firstJson.layers.map((l) => l.name)).toEqual(expect.arrayContaining(['slice-1', 'app']));
    const { answer, config, javac } = await serve(await pull(ref));
    expect(answer).toContain('hello from java-boot (greeting 1.0.0)');
    expect(answer).toContain('version=v1');
    expect(answer).toContain('uid=1000');
    expect(config.process.args).toEqual(['/layers/lading_java/jre/bin/java', '-cp', '/workspace/BOOT-INF/classes:/workspace/BOOT-INF/lib/*', 'com.example.boot.App']);
    expect(javac).toEqual([]);
    const libs = JSON.parse(sbom(sbomDir, 'launch', 'lading_java/sbom.cdx.json')) as { components: { purl?: string; licenses?: unknown[] }[] };
    const greeting = libs.components.find((c) => c.purl === 'pkg:maven/com.example/greeting@1.0.0');
    expect(greeting, JSON.stringify(libs.components)).toBeDefined();
    expect(JSON.stringify(greeting?.licenses)).toContain('MIT');

    const second = await build(ref, buildBootJar(join(temp('lading-java-boot-'), 'app'), work, 'v2'));
    expect(second.code, second.log).toBe(0);
    expect(changed(firstJson, second.json<BuildJson>())).toEqual(['app']);
    expect(second.json<BuildJson>().uploaded).toBe(2);
    expect((await serve(await pull(ref))).answer).toContain('version=v2');
  }, 300_000);
});
