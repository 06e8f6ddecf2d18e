import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lading } from '../support/cli.js';
import { requireTools } from '../support/tools.js';
import { imageNpmPackages, listedPackages } from './node-sbom-recall.js';
import { copyFixture, fetchAnswer, nodePublishSuite, type BuildJson } from './node-stack.js';

/**
 * An npm workspace member (test/fixtures/apps/node-workspace: packages/web uses packages/lib; packages/worker,
 * which web does not use, brings escape-html) built with `--publish` into the real registry, pulled back and
 * run under runc: `npm ci --workspace packages/web` installs only what web needs.
 */
describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb'))('Node.js buildpack: one member of an npm workspace', () => {
  const suite = nodePublishSuite('lading-node-npm-ws-', ['-e', 'BP_NODE_PROJECT_PATH=packages/web']);
  const { build, pull } = suite;
  const modulesSbom = (dir: string) => {
    const f = readdirSync(dir, { recursive: true }).map(String).find((p) => p.includes('lading_nodejs') && p.includes('modules') && p.endsWith('sbom.cdx.json'));
    return JSON.parse(readFileSync(join(dir, f!), 'utf8')) as { components: { name: string; purl: string; licenses?: unknown; hashes?: { alg: string }[] }[] };
  };
  const closure = ['pkg:npm/debug@4.4.3', 'pkg:npm/is-number@7.0.0', 'pkg:npm/ms@2.1.3'];

  it('BP_NODE_PROJECT_PATH=packages/web: npm ci --workspace installs only web\'s production closure and lib\'s, the sibling linked, under runc; a no-op rebuild runs no npm and uploads nothing; a fresh build gives the same digest', async () => {
    const ref = `${suite.registry.host}/node/npm-workspace:v1`;
    const sboms = join(suite.tmp, 'sboms');
    const first = await build(ref, copyFixture('node-workspace', join(suite.tmp, 'ws')), ['--sbom-output-dir', sboms]);
    const log = first.stdout + first.stderr;
    expect(first.code, log).toBe(0);
    expect(log).toContain('Installing the npm workspace at /workspace (members: packages/lib, packages/web, packages/worker)');
    expect(log).toContain('Running npm ci --omit=dev --workspace packages/web --include-workspace-root=false --no-audit --no-fund for /workspace/package.json and /workspace/package-lock.json (workspace packages/web)');

    const { answer, user, env } = await fetchAnswer(await pull(ref, 'ws'));
    expect(answer).toEqual(expect.objectContaining({
      app: 'node-workspace', message: 'hello web from @demo/lib (is-number says true)', debug: true, nodeEnv: 'production', uid: 1000, cwd: '/workspace/packages/web',
      devDependencyPresent: false, unselectedMemberDependencyPresent: false, unselectedMemberPresent: false, built: null,
    }));
    expect(user.uid).toBe(1000);
    expect(env).toEqual(expect.arrayContaining(['NODE_ENV=production']));

    // The SBOM is what npm installed: web's and lib's production closure, each with the lockfile's sha512.
    const bom = modulesSbom(sboms);
    expect(bom.components.map((c) => c.purl).sort()).toEqual(closure);
    expect(bom.components.every((c) => c.hashes?.some((h) => h.alg === 'SHA-512'))).toBe(true);
    expect(JSON.stringify(bom.components.find((c) => c.name === 'debug')!.licenses)).toContain('MIT');
    // npm's own production listing of the whole workspace: everything but the worker's dependency is in the image.
    const inImage = await imageNpmPackages(`docker://${ref}`, join(suite.tmp, 'home'), join(suite.tmp, 'recall', 'node-workspace.cdx.json'));
    const listed = listedPackages('npm', 'node-workspace', join(suite.tmp, 'recall', 'node-workspace-host'));
    expect(listed).toEqual(['debug@4.4.3', 'escape-html@1.0.3', 'is-number@7.0.0', 'ms@2.1.3']);
    expect(listed.filter((p) => !inImage.has(p))).toEqual(['escape-html@1.0.3']);

    // No-op rebuild from another directory: npm does not run, nothing is uploaded, same digest.
    const again = await build(ref, copyFixture('node-workspace', join(suite.tmp, 'ws-elsewhere')));
    const againLog = again.stdout + again.stderr;
    expect(again.code, againLog).toBe(0);
    expect(againLog).toContain('Reusing layer modules');
    expect(againLog).toContain('Dependencies unchanged: npm did not run');
    expect(againLog).not.toContain('Running npm');
    expect(again.json<BuildJson>().digest).toBe(first.json<BuildJson>().digest);
    expect(again.json<BuildJson>().uploaded).toBe(0);

    // Reproducible: another directory, an empty cache and a new repository: npm runs again, same digest.
    const fresh = await build(`${suite.registry.host}/node/npm-workspace-fresh:v1`, copyFixture('node-workspace', join(suite.tmp, 'ws-fresh')), [], join(suite.tmp, 'cache-fresh'));
    expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0);
    expect(fresh.stdout + fresh.stderr).toContain('Running npm ci');
    // Its runtime directory is the first build's tree, linked from the layer tree store, not unpacked again
    // (docs/lifecycle.md "Layer tree store").
    expect(fresh.stdout + fresh.stderr).toContain("linked from lading's layer tree store");
    expect(fresh.json<BuildJson>().digest).toBe(first.json<BuildJson>().digest);
    // The runtime layer was sealed by the buildpack (content marker) and this machine packed it before: its tar
    // is not read again, and the image is the same (docs/lifecycle.md "Layer content keys").
    const runtime = fresh.json<BuildJson>().layers.find((l) => l.name === 'lading/nodejs:node');
    expect(runtime?.recalled).toBe(true);
  }, 300_000);

  it('a member with a build script: it runs with web\'s dev dependency and its sibling, then the prune leaves web\'s production closure only', async () => {
    const app = copyFixture('node-workspace', join(suite.tmp, 'ws-build'));
    const pkgFile = join(app, 'packages', 'web', 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { scripts: Record<string, string> };
    pkg.scripts['build'] = 'node build.js';
    writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
    // is-odd is a dev dependency of web; @demo/lib is the sibling member.
    writeFileSync(join(app, 'packages', 'web', 'build.js'), "const { greeting } = require('@demo/lib');\nrequire('node:fs').writeFileSync(`${__dirname}/built.json`, JSON.stringify({ isOdd: require('is-odd')(3), greet: greeting('build'), cwd: process.cwd() }));\n");
    const ref = `${suite.registry.host}/node/npm-workspace-build:v1`;
    const sboms = join(suite.tmp, 'sboms-build');
    const r = await build(ref, app, ['--sbom-output-dir', sboms]);
    const log = r.stdout + r.stderr;
    expect(r.code, log).toBe(0);
    expect(log).toContain('Running npm ci --include=dev --workspace packages/web --include-workspace-root=false --no-audit --no-fund');
    expect(log).toContain('Running build script "build": node build.js');
    expect(log).toContain('Pruning dev dependencies (npm prune --omit=dev --workspace packages/web --include-workspace-root=false)');
    const { answer } = await fetchAnswer(await pull(ref, 'ws-build'));
    expect(answer).toEqual(expect.objectContaining({
      built: { isOdd: true, greet: 'hello build from @demo/lib (is-number says true)', cwd: '/workspace/packages/web' },
      message: 'hello web from @demo/lib (is-number says true)', uid: 1000, nodeEnv: 'production',
      devDependencyPresent: false, unselectedMemberDependencyPresent: false, unselectedMemberPresent: false,
    }));
    expect(modulesSbom(sboms).components.map((c) => c.purl).sort()).toEqual(closure);
  }, 300_000);

  it('a member\'s package.json out of sync with the root lockfile: npm ci refuses, its error surfaced (exit 51)', async () => {
    const app = copyFixture('node-workspace', join(suite.tmp, 'ws-out-of-sync'));
    const pkgFile = join(app, 'packages', 'web', 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { dependencies: Record<string, string> };
    pkg.dependencies['is-even'] = '^1.0.0';
    writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
    const r = await build(`${suite.registry.host}/node/npm-workspace-bad:v1`, app);
    expect(r.code).toBe(51);
    const log = r.stdout + r.stderr;
    expect(log).toMatch(/npm ci for \/workspace\/package\.json and \/workspace\/package-lock\.json \(workspace packages\/web\) exited with status 1/);
    expect(log).toMatch(/\| npm error .*in sync/);
  }, 300_000);
});
