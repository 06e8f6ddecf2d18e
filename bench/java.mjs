#!/usr/bin/env node
// The Java buildpack end to end (issue 8's targets): `lading build --publish` of test/fixtures/apps/java-maven-http
// with -b buildpacks/java onto the bookworm stack's run-base, to a local registry, against `buildah bud` of an
// equivalent two-stage Dockerfile (JDK + Maven build stage, JRE run stage) pushed to the same registry.
//   - cold build (empty --cache-dir; buildah: empty layer cache, base images already present);
//   - warm no-op rebuild (lading only: Maven must not run; median of ≥ 5);
//   - one-class change + push (Greeting.java rewritten each run): lading vs buildah --layers, medians of ≥ 5,
//     ratio buildah/lading. Goal: ≥ 3× faster warm;
//   - image size: compressed layers of the lading image with the jlink'd runtime and with BP_JVM_JLINK_ENABLED=false
//     (Debian's JRE package), and of the buildah image (Debian's JRE package on a full bookworm).
// Maven runs offline against Debian's plugin repository (/usr/share/maven-repo) in both: lading gets the
// settings.xml through a `maven` service binding (SERVICE_BINDING_ROOT), buildah through COPY.
// The buildah base images are made once per run with mmdebstrap (--variant=apt, this machine's apt sources):
// bookworm + openjdk-17-jdk-headless + maven + Debian's Maven plugins, and bookworm + openjdk-17-jre-headless.
// Needs `npm run build`, docker-registry, apt access (scripts/setup-system), buildah and mmdebstrap; root.
// Usage: node bench/java.mjs [runs=5]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEB_CACHE, has, LADING as lading, median, requireBuilt, ROOT as root, runsArg, startRegistry } from './support.mjs';

requireBuilt('java');
const runs = runsArg();
const MAVEN_PLUGINS = ['maven', 'libmaven-compiler-plugin-java', 'libmaven-jar-plugin-java', 'libmaven-resources-plugin-java', 'libsurefire-java', 'libmaven-install-plugin-java'];
const SETTINGS = '<settings>\n  <offline>true</offline>\n  <localRepository>/usr/share/maven-repo</localRepository>\n</settings>\n';
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;
const range = (xs) => `min ${Math.min(...xs).toFixed(2)} – max ${Math.max(...xs).toFixed(2)}`;

const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-java-'));
let registry;
try {
  registry = await startRegistry(tmp);
  const host = `127.0.0.1:${registry.port}`;
  const home = join(tmp, 'home');
  const env = { ...process.env, LADING_HOME: home };
  delete env.SOURCE_DATE_EPOCH;

  // The stack's run-base as an OCI layout (what the Java buildpack's images run on).
  const stack = join(tmp, 'stack');
  execFileSync(lading, ['stack', 'build', join(root, 'stacks/bookworm'), '--output', `oci:${stack}`, ...(existsSync(DEB_CACHE) ? ['--deb-cache', DEB_CACHE] : [])], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const runImage = `oci:${stack}:run-base`;

  const bindings = join(tmp, 'bindings');
  mkdirSync(join(bindings, 'maven'), { recursive: true });
  writeFileSync(join(bindings, 'maven', 'type'), 'maven\n');
  writeFileSync(join(bindings, 'maven', 'settings.xml'), SETTINGS);
  const app = join(tmp, 'app');
  cpSync(join(root, 'test/fixtures/apps/java-maven-http'), app, { recursive: true });
  const greeting = join(app, 'src/main/java/com/example/http/Greeting.java');
  const original = readFileSync(greeting, 'utf8');
  const changeClass = (n) => writeFileSync(greeting, original.replace('hello from java-maven-http', `hello ${n} from java-maven-http`));

  const ref = `${host}/bench/java:latest`;
  const cache = join(tmp, 'cache');
  const build = (target = ref, extra = []) => {
    const start = process.hrtime.bigint();
    const out = execFileSync(lading, ['build', target, '--publish', '-p', app, '-b', join(root, 'buildpacks/java'), '--run-image', runImage, '--cache-dir', cache, '-e', `SERVICE_BINDING_ROOT=${bindings}`, '--json', ...extra],
      { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    return { seconds: seconds(start), result: JSON.parse(out.toString()) };
  };
  const layerBytes = (r) => JSON.parse(execFileSync(lading, ['inspect', r, '--json'], { env, maxBuffer: 64 << 20 }).toString()).layers.reduce((n, l) => n + l.size, 0);

  const cold = build();
  const noop = [];
  const noopUploads = new Set();
  for (let r = 0; r < runs; r++) {
    const w = build();
    noop.push(w.seconds);
    noopUploads.add(w.result.uploaded);
  }
  const change = [];
  const changeUploads = new Set();
  for (let r = 0; r < runs; r++) {
    changeClass(r + 1);
    const w = build();
    change.push(w.seconds);
    changeUploads.add(w.result.uploaded);
  }
  changeClass(0);
  const ladingBytes = layerBytes(ref);
  // Without jlink: the same app on Debian's JRE package and what of its closure run-base lacks.
  const jreRef = `${host}/bench/java-jre:latest`;
  build(jreRef, ['-e', 'BP_JVM_JLINK_ENABLED=false']);
  const jreBytes = layerBytes(jreRef);
  const runBaseBytes = JSON.parse(execFileSync(lading, ['inspect', runImage, '--json'], { env, maxBuffer: 64 << 20 }).toString()).layers.reduce((n, l) => n + l.size, 0);

  const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
  console.log('lading build --publish of test/fixtures/apps/java-maven-http (-b buildpacks/java, run-base) to docker-registry on 127.0.0.1');
  console.log(`cold build (empty cache dir)   ${cold.seconds.toFixed(2)} s (once)`);
  console.log(`warm no-op rebuild             ${median(noop).toFixed(2)} s median of ${runs} (${range(noop)}), blobs uploaded: ${[...noopUploads].join('/')}`);
  console.log(`one-class change + push        ${median(change).toFixed(2)} s median of ${runs} (${range(change)}), blobs uploaded: ${[...changeUploads].join('/')}`);
  console.log(`image layers, jlink'd runtime  ${mb(ladingBytes)} (run-base ${mb(runBaseBytes)} of it)`);
  console.log(`image layers, JRE package      ${mb(jreBytes)} (BP_JVM_JLINK_ENABLED=false)  jlink / JRE = ${(ladingBytes / jreBytes).toFixed(2)}×`);

  if (!has('buildah') || !has('mmdebstrap')) {
    console.log('buildah or mmdebstrap not installed: no peer measured (apt-get install buildah mmdebstrap)');
  } else {
    const storage = ['--storage-driver', 'vfs', '--root', join(tmp, 'buildah', 'root'), '--runroot', join(tmp, 'buildah', 'run')];
    const buildah = (args, opts = {}) => execFileSync('buildah', [...storage, ...args], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts }).toString().trim();
    // Base images from Debian packages (mmdebstrap runs the maintainer scripts, e.g. the Java cacerts).
    const base = (name, packages) => {
      const tar = join(tmp, `${name}.tar`);
      execFileSync('mmdebstrap', ['--variant=apt', '--quiet', `--include=${packages.join(',')}`, 'bookworm', tar], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: '315532801' } });
      const c = buildah(['from', 'scratch']);
      buildah(['add', c, tar, '/']);
      buildah(['commit', '-q', c, name]);
      buildah(['rm', c]);
    };
    const t0 = process.hrtime.bigint();
    base('bench-jdk', ['openjdk-17-jdk-headless', ...MAVEN_PLUGINS]);
    base('bench-jre', ['openjdk-17-jre-headless']);
    console.log(`buildah base images (mmdebstrap, once, not counted) ${seconds(t0).toFixed(1)} s`);
    const ctx = join(tmp, 'buildah-ctx');
    cpSync(join(root, 'test/fixtures/apps/java-maven-http'), ctx, { recursive: true });
    writeFileSync(join(ctx, 'settings.xml'), SETTINGS);
    writeFileSync(join(ctx, 'Containerfile'), [
      'FROM bench-jdk AS build',
      'WORKDIR /src',
      'COPY settings.xml /root/.m2/settings.xml',
      'COPY pom.xml .',
      'COPY src src',
      'RUN mvn -s /root/.m2/settings.xml -Dmaven.test.skip=true --batch-mode package',
      'FROM bench-jre',
      'COPY --from=build /src/target/java-maven-http-1.0.0.jar /app/app.jar',
      'USER 1000:1000',
      'ENV JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0',
      'ENTRYPOINT ["java", "-jar", "/app/app.jar"]',
      '',
    ].join('\n'));
    const peerGreeting = join(ctx, 'src/main/java/com/example/http/Greeting.java');
    const peerRef = `${host}/bench/java-buildah:latest`;
    const peer = () => {
      const start = process.hrtime.bigint();
      buildah(['bud', '--isolation', 'chroot', '--layers', '-q', '-t', 'bench-java', '-f', join(ctx, 'Containerfile'), ctx]);
      buildah(['push', '--tls-verify=false', 'bench-java', `docker://${peerRef}`]);
      return seconds(start);
    };
    const peerCold = peer();
    const peerChange = [];
    for (let r = 0; r < runs; r++) {
      writeFileSync(peerGreeting, original.replace('hello from java-maven-http', `hello ${r + 1} from java-maven-http`));
      peerChange.push(peer());
    }
    const peerBytes = layerBytes(peerRef);
    console.log(`buildah bud two-stage Dockerfile (JDK+Maven → JRE), --layers, push to the same registry`);
    console.log(`  cold build + push            ${peerCold.toFixed(2)} s (once)`);
    console.log(`  one-class change + push      ${median(peerChange).toFixed(2)} s median of ${runs} (${range(peerChange)})`);
    console.log(`  image layers (JRE package)   ${mb(peerBytes)}`);
    console.log(`one-class change: buildah / lading = ${(median(peerChange) / median(change)).toFixed(2)}×  goal ≥ 3×`);
    console.log(`image size: lading (jlink) / buildah (JRE) = ${(ladingBytes / peerBytes).toFixed(2)}×`);
  }
} finally {
  registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
