#!/usr/bin/env node
// The Python buildpack end to end (issue 9): `lading build --publish` of test/fixtures/apps/python-requirements
// (one dependency, a wheel built here and served with --find-links, no index) to a local registry, against
// `buildah bud` of the equivalent Dockerfile pushed to the same registry, in the same run:
//   - cold build: lading with an empty --cache-dir (the stack already in LADING_HOME: its first-use build is timed
//     once, separately); buildah with empty storage (its base rootfs already made, as the stack is for lading);
//   - warm build: one changed source file (app.py), same cache / same storage; median of ≥ 5 runs;
//   - no-op rebuild: nothing changed; median of ≥ 5 runs.
// The Dockerfile's base is Debian 12 with python3.11 and python3-pip (mmdebstrap --variant=extract), the same
// Debian packages the buildpack installs; its RUN pip install uses the same wheel directory and --no-index.
// Needs `npm run build`, docker-registry, buildah, mmdebstrap, Debian's python3 with pip/wheel (scripts/setup-system).
// Usage: node bench/python.mjs [runs=5]
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { has, LADING as lading, median, requireBuilt, ROOT as root, runsArg, startRegistry } from './support.mjs';

requireBuilt('python');
for (const tool of ['docker-registry', 'buildah', 'mmdebstrap']) {
  if (!has(tool)) { console.error(`${tool} is not installed (apt-get install ${tool})`); process.exit(2); }
}
const runs = runsArg();
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const seconds = (fn) => { const start = process.hrtime.bigint(); const result = fn(); return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result }; };
const stats = (xs) => `${median(xs).toFixed(3)} s median of ${xs.length} (min ${Math.min(...xs).toFixed(3)} – max ${Math.max(...xs).toFixed(3)})`;

const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-python-'));
let registry;
try {
  registry = await startRegistry(tmp);
  const host = `127.0.0.1:${registry.port}`;
  const home = join(tmp, 'home');
  const env = { ...process.env, LADING_HOME: home };
  delete env.SOURCE_DATE_EPOCH;

  const wheels = join(tmp, 'wheels');
  // Built from a copy: setuptools writes build/ and *.egg-info next to the sources.
  const lib = join(tmp, 'greeting-lib');
  cpSync(join(root, 'test/fixtures/apps/python-greeting-lib'), lib, { recursive: true });
  execFileSync(python, ['-m', 'pip', 'wheel', '--no-deps', '--no-index', '--no-build-isolation', '-q', '-w', wheels, lib],
    { stdio: 'pipe', env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
  const app = join(tmp, 'app');
  cpSync(join(root, 'test/fixtures/apps/python-requirements'), app, { recursive: true });

  const ladingBuild = (ref, cacheDir) => seconds(() => JSON.parse(execFileSync(lading,
    ['build', ref, '--publish', '-p', app, '-b', join(root, 'buildpacks/python'), '--cache-dir', cacheDir, '-e', `BP_PIP_FIND_LINKS=${wheels}`, '-e', 'PIP_NO_INDEX=1', '--json'],
    { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).toString()));

  // lading: first use builds the stack into LADING_HOME (once), then cold, warm (one file changed), no-op.
  const first = ladingBuild(`${host}/bench/warmup:latest`, join(tmp, 'cache-warmup'));
  const ref = `${host}/bench/python-lading:latest`;
  const cache = join(tmp, 'cache');
  const cold = ladingBuild(ref, cache);
  const warm = [];
  const noop = [];
  let noopUploaded = 0;
  for (let r = 0; r < runs; r++) {
    appendFileSync(join(app, 'app.py'), `# change ${r}\n`);
    warm.push(ladingBuild(ref, cache).seconds);
    const n = ladingBuild(ref, cache);
    noop.push(n.seconds);
    noopUploaded = Math.max(noopUploaded, n.result.uploaded ?? 0);
  }

  // buildah: the equivalent Dockerfile on a Debian 12 rootfs with the same interpreter and pip.
  const ctx = join(tmp, 'ctx');
  mkdirSync(ctx);
  const base = seconds(() => execFileSync('mmdebstrap', ['--variant=extract', '--quiet', '--include=dash,coreutils,python3.11,python3-minimal,python3-pip,python3-setuptools,python3-wheel',
    '--format=tar', 'bookworm', join(ctx, 'rootfs.tar')], { stdio: 'pipe', env: { ...process.env, SOURCE_DATE_EPOCH: '315532801' } }));
  cpSync(wheels, join(ctx, 'wheels'), { recursive: true });
  cpSync(join(root, 'test/fixtures/apps/python-requirements'), join(ctx, 'app'), { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), [
    'FROM scratch',
    'ADD rootfs.tar /',
    'ENV PYTHONUNBUFFERED=1 PIP_NO_INDEX=1 PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore',
    'COPY wheels /wheels',
    'COPY app/requirements.txt /workspace/requirements.txt',
    'RUN python3 -m pip install --no-cache-dir --find-links /wheels -r /workspace/requirements.txt',
    'COPY app /workspace',
    'WORKDIR /workspace',
    'USER 1000:1000',
    'CMD ["python3", "app.py"]',
    '',
  ].join('\n'));
  const storage = ['--storage-driver', 'vfs', '--root', join(tmp, 'buildah', 'root'), '--runroot', join(tmp, 'buildah', 'run')];
  const bud = () => seconds(() => {
    execFileSync('buildah', [...storage, 'bud', '--isolation', 'chroot', '--layers', '-q', '-t', 'bench-python', ctx], { stdio: 'pipe' });
    execFileSync('buildah', [...storage, 'push', '--tls-verify=false', 'bench-python', `docker://${host}/bench/python-buildah:latest`], { stdio: 'pipe' });
  }).seconds;
  const budCold = bud();
  const budWarm = [];
  const budNoop = [];
  for (let r = 0; r < runs; r++) {
    appendFileSync(join(ctx, 'app', 'app.py'), `# change ${r}\n`);
    budWarm.push(bud());
    budNoop.push(bud());
  }

  console.log('lading build --publish (-b buildpacks/python) vs buildah bud --layers + push of the equivalent Dockerfile, test/fixtures/apps/python-requirements, docker-registry on 127.0.0.1');
  console.log(`lading first use (stack into LADING_HOME)  ${first.seconds.toFixed(3)} s (once); buildah base rootfs (mmdebstrap) ${base.seconds.toFixed(3)} s (once)`);
  console.log(`cold build     lading ${cold.seconds.toFixed(3)} s   buildah ${budCold.toFixed(3)} s   = ${(cold.seconds / budCold).toFixed(2)}×`);
  console.log(`warm (app.py)  lading ${stats(warm)}   buildah ${stats(budWarm)}   = ${(median(warm) / median(budWarm)).toFixed(2)}×`);
  console.log(`no-op rebuild  lading ${stats(noop)} (blobs uploaded ≤ ${noopUploaded})   buildah ${stats(budNoop)}   = ${(median(noop) / median(budNoop)).toFixed(2)}×`);
  console.log(`wheel dir: ${readdirSync(wheels).join(', ')}`);
} finally {
  registry?.stop();
  try { execFileSync('buildah', ['--storage-driver', 'vfs', '--root', join(tmp, 'buildah', 'root'), '--runroot', join(tmp, 'buildah', 'run'), 'rm', '--all'], { stdio: 'ignore' }); } catch { /* nothing to remove */ }
  rmSync(tmp, { recursive: true, force: true });
}
