import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { execa } from 'execa';
import { parse, stringify } from 'smol-toml';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/buildpacks/sdk');
const SPDX_SCHEMA = resolve(ROOT, '../shared/reference/spdx-2.3/spdx-schema.json');
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => void;

async function sourcesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourcesBelow(p)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/**
 * The fixture buildpacks run their TypeScript bundled into their own directories (scripts/bundle-buildpacks.mjs,
 * part of `npm run build`), as a lifecycle that mounts them elsewhere needs. Bundling again here keeps a
 * run of only these tests current after an edit.
 */
async function ensureCompiled(): Promise<void> {
  const { bundleBuildpacks } = (await import(join(ROOT, 'scripts/bundle-buildpacks.mjs'))) as { bundleBuildpacks: (o: { quiet: boolean }) => Promise<void> };
  await bundleBuildpacks({ quiet: true });
}

const tmp: string[] = [];
beforeAll(ensureCompiled, 120_000);
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

interface Build {
  root: string;
  app: string;
  platform: string;
  layers: string;
  plan: string;
}

/** Directories as the lifecycle lays them out for one buildpack. */
async function workspace(app: Record<string, string> = {}): Promise<Build> {
  const root = await mkdtemp(join(tmpdir(), 'lading-sdk-'));
  tmp.push(root);
  const b = { root, app: join(root, 'workspace'), platform: join(root, 'platform'), layers: join(root, 'layers', 'bp'), plan: join(root, 'plan.toml') };
  await mkdir(join(b.platform, 'env'), { recursive: true });
  await mkdir(b.layers, { recursive: true });
  await mkdir(b.app, { recursive: true });
  for (const [name, text] of Object.entries(app)) {
    await mkdir(dirname(join(b.app, name)), { recursive: true });
    await writeFile(join(b.app, name), text);
  }
  return b;
}

/** The spec's env for a buildpack process: a filtered host env plus the CNB_* variables. */
function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: process.env['HOME'] ?? '/root', CNB_TARGET_OS: 'linux', CNB_TARGET_ARCH: 'amd64', ...extra };
}

async function detect(bp: string, b: Build, opts: { env?: Record<string, string>; positionalOnly?: boolean } = {}) {
  const dir = join(FIXTURES, bp);
  const env = opts.positionalOnly
    ? baseEnv(opts.env)
    : baseEnv({ CNB_BUILDPACK_DIR: dir, CNB_PLATFORM_DIR: b.platform, CNB_BUILD_PLAN_PATH: b.plan, ...opts.env });
  return execa(join(dir, 'bin', 'detect'), [b.platform, b.plan], { cwd: b.app, env, extendEnv: false, reject: false });
}

async function build(bp: string, b: Build, plan: string, env: Record<string, string> = {}) {
  const dir = join(FIXTURES, bp);
  await writeFile(b.plan, plan);
  return execa(join(dir, 'bin', 'build'), [b.layers, b.platform, b.plan], {
    cwd: b.app,
    env: baseEnv({ CNB_BUILDPACK_DIR: dir, CNB_PLATFORM_DIR: b.platform, CNB_BP_PLAN_PATH: b.plan, CNB_LAYERS_DIR: b.layers, ...env }),
    extendEnv: false,
    reject: false,
  });
}

const toml = async (file: string) => parse(await readFile(file, 'utf8')) as Record<string, unknown>;
const text = (file: string) => readFile(file, 'utf8');

/** What the lifecycle leaves before a rebuild of a cache layer: contents, and the TOML without [types]. */
async function restoreAsLifecycle(layers: string, name: string): Promise<void> {
  const doc = await toml(join(layers, `${name}.toml`));
  delete doc['types'];
  await writeFile(join(layers, `${name}.toml`), stringify(doc));
  for (const f of ['launch.toml', 'build.toml']) await rm(join(layers, f), { force: true });
}

describe('buildpack.md "Detection" through the SDK (fixture sdk/greeter)', () => {
  it('fails with exit 100 and says why when the app does not fit', async () => {
    const b = await workspace();
    const r = await detect('greeter', b);
    expect(r.exitCode).toBe(100);
    expect(r.stdout).toContain('fixtures/sdk-greeter: no greeting.txt in the app');
  });

  it('passes with exit 0 and writes provides/requires/or to CNB_BUILD_PLAN_PATH; reads <platform>/env', async () => {
    const b = await workspace({ 'greeting.txt': 'Hello\n' });
    await writeFile(join(b.platform, 'env', 'BP_GREETER_VERSION'), '2.1.0');
    const r = await detect('greeter', b);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await toml(b.plan)).toEqual({
      provides: [{ name: 'greeting' }],
      requires: [{ name: 'greeting', metadata: { version: '2.1.0', launch: true } }],
      or: [{ provides: [{ name: 'greeting' }, { name: 'shout' }], requires: [{ name: 'greeting' }, { name: 'shout' }] }],
    });
  });

  it('"Positional Arguments": works from <platform> <plan> and $0 alone (no CNB_* paths)', async () => {
    const b = await workspace({ 'greeting.txt': 'Hi' });
    const r = await detect('greeter', b, { positionalOnly: true });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await toml(b.plan))['requires']).toEqual([{ name: 'greeting', metadata: { version: '1.0.0', launch: true } }]);
  });
});

describe('buildpack.md "Build" through the SDK (fixture sdk/greeter)', () => {
  const plan = '[[entries]]\nname = "greeting"\n[entries.metadata]\nversion = "2.0.0"\n\n[[entries]]\nname = "shout"\n';

  it('writes the layer TOML, env files in every scope, launch.toml, build.toml [[unmet]] and store.toml', async () => {
    const b = await workspace({ 'greeting.txt': 'Hello\n' });
    const r = await build('greeter', b, plan);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('SDK greeter 1.2.0');
    expect(r.stdout).toContain('Building layer greeter (no previous layer)');
    const layer = join(b.layers, 'greeter');
    expect(await toml(join(b.layers, 'greeter.toml'))).toEqual({
      types: { launch: true, build: true, cache: false },
      metadata: { tool: 'bin/greet', version: '2.0.0' },
    });
    expect(await text(join(layer, 'env', 'GREETING.default'))).toBe('Hello');
    expect(await text(join(layer, 'env.build', 'GREETER_BUILD.override'))).toBe('1');
    expect(await text(join(layer, 'env.launch', 'GREETER_PATH.prepend'))).toBe(join(layer, 'bin'));
    expect(await text(join(layer, 'env.launch', 'GREETER_PATH.delim'))).toBe(':');
    expect(await text(join(layer, 'env.launch', 'web', 'GREETER_FLAGS.append'))).toBe('--web');
    expect(await text(join(layer, 'env.launch', 'web', 'GREETER_FLAGS.delim'))).toBe(' ');
    const greet = await execa(join(layer, 'bin', 'greet'), ['you'], { env: { GREETING: 'Hey' } });
    expect(greet.stdout).toBe('Hey, you');
    expect(await toml(join(b.layers, 'launch.toml'))).toEqual({
      labels: [{ key: 'io.lading.fixture.greeter', value: '2.0.0' }],
      processes: [
        { type: 'web', command: [join(layer, 'bin', 'greet')], args: ['world'], default: true, 'working-dir': b.app },
        { type: 'shout', command: ['sh', '-c', 'echo "$GREETING" | tr a-z A-Z'], args: [], default: false },
      ],
      slices: [{ paths: ['static/*'] }],
    });
    expect(await toml(join(b.layers, 'build.toml'))).toEqual({ unmet: [{ name: 'shout' }] });
    expect(await toml(join(b.layers, 'store.toml'))).toEqual({ metadata: { builds: 1 } });
  });

  it('reads the restored store.toml on the next build', async () => {
    const b = await workspace({ 'greeting.txt': 'Hello' });
    await writeFile(join(b.layers, 'store.toml'), '[metadata]\nbuilds = 41\n');
    const r = await build('greeter', b, plan);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await toml(join(b.layers, 'store.toml'))).toEqual({ metadata: { builds: 42 } });
  });

  it('a malformed Buildpack Plan fails with exit 1, naming the file and line, never "see debug log"', async () => {
    const b = await workspace({ 'greeting.txt': 'Hello' });
    const r = await build('greeter', b, '[[entries]]\nname = "greeting"\nbroken = \n');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('ERROR: fixtures/sdk-greeter build failed');
    expect(r.stderr).toContain(`${b.plan}:3:`);
    expect(r.stderr.toLowerCase()).not.toContain('debug');
    expect(await readdir(b.layers)).toEqual([]);
  });
});

describe('buildpack.md "Reusing Layers" through the layer contributor (fixture sdk/cacher)', () => {
  it('builds, reuses a restored cache layer, and rebuilds when the lockfile changes', async () => {
    const b = await workspace({ 'deps.lock': 'left-pad 1.0.0\n' });
    const first = await build('cacher', b, '');
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain('Building layer deps (no previous layer)');
    const written = await toml(join(b.layers, 'deps.toml'));
    expect(written['types']).toEqual({ launch: false, build: true, cache: true });
    expect((written['metadata'] as Record<string, unknown>)['installed-by']).toBe('0.3.0');

    await restoreAsLifecycle(b.layers, 'deps');
    const second = await build('cacher', b, '');
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain('Reusing layer deps');
    expect(await text(join(b.app, 'cacher-result.txt'))).toBe('reused');
    expect(await toml(join(b.layers, 'deps.toml'))).toEqual(written);
    expect(await text(join(b.layers, 'deps', 'installed.txt'))).toBe('left-pad 1.0.0\n');

    await restoreAsLifecycle(b.layers, 'deps');
    await writeFile(join(b.app, 'deps.lock'), 'left-pad 1.1.0\n');
    const third = await build('cacher', b, '');
    expect(third.stdout).toMatch(/Building layer deps \(changed: lock-sha256 "[0-9a-f]{36}\.\.\. → "[0-9a-f]{36}\.\.\.\)/);
    expect(await text(join(b.layers, 'deps', 'installed.txt'))).toBe('left-pad 1.1.0\n');
  });

  it('rebuilds when the metadata was restored but the contents were not', async () => {
    const b = await workspace({ 'deps.lock': 'x' });
    await build('cacher', b, '');
    await restoreAsLifecycle(b.layers, 'deps');
    await rm(join(b.layers, 'deps'), { recursive: true });
    const r = await build('cacher', b, '');
    expect(r.stdout).toContain('Building layer deps (contents not restored)');
    expect(await text(join(b.app, 'cacher-result.txt'))).toBe('built: contents not restored');
  });
});

describe('buildpack.md "Software-Bill-of-Materials" through the SDK (fixture sdk/sbom-writer)', () => {
  async function sbomRun() {
    const b = await workspace();
    const r = await build('sbom-writer', b, '');
    expect(r.exitCode, r.stderr).toBe(0);
    return b;
  }

  it('writes <layer>.sbom.cdx.json and .spdx.json and launch.sbom.*, valid and byte-identical across builds', async () => {
    const a = await sbomRun();
    const b = await sbomRun();
    const files = ['runtime.sbom.cdx.json', 'runtime.sbom.spdx.json', 'launch.sbom.cdx.json', 'launch.sbom.spdx.json'];
    for (const f of files) expect(await text(join(a.layers, f))).toBe(await text(join(b.layers, f)));
    expect(await toml(join(a.layers, 'runtime.toml'))).toEqual({ types: { launch: true, build: false, cache: false } });

    const cdx = JSON.parse(await text(join(a.layers, 'runtime.sbom.cdx.json')));
    expect(cdx.bomFormat).toBe('CycloneDX');
    expect(cdx.specVersion).toBe('1.6');
    expect(cdx.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(JSON.stringify(cdx)).not.toMatch(/timestamp/);
    expect(cdx.components.map((c: { purl: string }) => c.purl)).toEqual(['pkg:generic/node@20.11.1', 'pkg:generic/zlib@1.3.1', 'pkg:npm/%40scope/odd@0.1.0']);
    expect(cdx.components[0]).toMatchObject({
      cpe: 'cpe:2.3:a:nodejs:node.js:20.11.1:*:*:*:*:*:*:*',
      licenses: [{ license: { id: 'MIT' } }],
      hashes: [{ alg: 'SHA-256', content: 'a'.repeat(64) }, { alg: 'SHA-512', content: 'c'.repeat(128) }],
    });
    expect(cdx.components[2].licenses).toEqual([{ expression: 'LicenseRef-SEE-LICENSE-IN-LICENSE.md AND (MIT OR Apache-2.0)' }]);

    const spdx = JSON.parse(await text(join(a.layers, 'runtime.sbom.spdx.json')));
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    // The official SPDX 2.3 schema is workspace reference data beside the repository (../shared), not vendored.
    expect(existsSync(SPDX_SCHEMA), `SPDX 2.3 schema missing at ${SPDX_SCHEMA} (the workspace's shared reference)`).toBe(true);
    const validate = ajv.compile(JSON.parse(readFileSync(SPDX_SCHEMA, 'utf8')));
    expect(validate(spdx), JSON.stringify(validate.errors)).toBe(true);
    expect(spdx.creationInfo.created).toBe('1980-01-01T00:00:01Z');
    const odd = spdx.packages.find((p: { name: string }) => p.name === '@scope/odd');
    expect(odd.licenseDeclared).toBe('LicenseRef-SEE-LICENSE-IN-LICENSE.md AND (MIT OR Apache-2.0)');
    expect(spdx.hasExtractedLicensingInfos).toEqual([
      { licenseId: 'LicenseRef-SEE-LICENSE-IN-LICENSE.md', extractedText: 'SEE LICENSE IN LICENSE.md', name: 'SEE LICENSE IN LICENSE.md' },
    ]);
    expect(spdx.relationships).toHaveLength(3);

    const launch = JSON.parse(await text(join(a.layers, 'launch.sbom.cdx.json')));
    expect(launch.components).toEqual([
      { type: 'library', 'bom-ref': 'pkg:npm/app-dep@2.0.0', name: 'app-dep', version: '2.0.0', licenses: [{ license: { id: 'ISC' } }], purl: 'pkg:npm/app-dep@2.0.0' },
    ]);
  });

  it('SOURCE_DATE_EPOCH sets SPDX created', async () => {
    const b = await workspace();
    const r = await build('sbom-writer', b, '', { SOURCE_DATE_EPOCH: '1700000000' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(await text(join(b.layers, 'runtime.sbom.spdx.json'))).creationInfo.created).toBe('2023-11-14T22:13:20Z');
  });
});

/**
 * NETWORK: the npm registry through the user's npm configuration, seen by a buildpack process with only the
 * env the lifecycle forwards (design.md §7: trust settings and the npmrc files by path). Skipped when the
 * registry is unreachable outside CI; fails under CI=true.
 */
describe('a buildpack downloading through npm with the filtered env (fixture sdk/npm-fetcher, network)', () => {
  let npmEnv: Record<string, string> = {};
  let offline: string | undefined;
  beforeAll(async () => {
    try {
      const { stdout } = await execa('npm', ['config', 'get', 'globalconfig'], { timeout: 60_000 });
      npmEnv = {
        NPM_CONFIG_GLOBALCONFIG: stdout.trim(),
        NPM_CONFIG_USERCONFIG: process.env['npm_config_userconfig'] ?? join(process.env['HOME'] ?? '/root', '.npmrc'),
        ...(process.env['NODE_EXTRA_CA_CERTS'] ? { NODE_EXTRA_CA_CERTS: process.env['NODE_EXTRA_CA_CERTS'] } : {}),
      };
      await execa('npm', ['view', 'is-number@7.0.0', 'version'], { timeout: 60_000 });
    } catch (err) {
      offline = (err as Error).message;
    }
  }, 120_000);
  const online = (ctx: { skip: (note?: string) => void }) => {
    if (offline === undefined) return;
    if (process.env['CI'] === 'true') throw new Error(`the npm registry is unreachable under CI: ${offline}`);
    ctx.skip(`npm registry unreachable: ${offline}`);
  };

  it('resolves, downloads, verifies, unpacks and reuses on the next build', async (ctx) => {
    online(ctx);
    const b = await workspace();
    const first = await build('npm-fetcher', b, '', npmEnv);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain('Resolved is-number 7.0.0 (buildpack default)');
    expect(first.stdout).toContain('Building layer is-number (no previous layer)');
    expect(first.stdout).toContain('Building layer download-is-number (no previous layer)');
    expect(JSON.parse(await text(join(b.layers, 'is-number', 'package.json')))).toMatchObject({ name: 'is-number', version: '7.0.0' });
    const cdx = JSON.parse(await text(join(b.layers, 'is-number.sbom.cdx.json')));
    expect(cdx.components).toHaveLength(1);
    expect(cdx.components[0]).toMatchObject({ name: 'is-number', purl: 'pkg:npm/is-number@7.0.0', licenses: [{ license: { id: 'MIT' } }] });
    const download = await toml(join(b.layers, 'download-is-number.toml'));
    expect(download['types']).toEqual({ launch: false, build: false, cache: true });
    expect((download['metadata'] as Record<string, string>)['checksum']).toMatch(/^sha512-/);

    // the lifecycle's restore: a launch-only layer comes back as metadata only, a cache layer with contents
    await restoreAsLifecycle(b.layers, 'is-number');
    await rm(join(b.layers, 'is-number'), { recursive: true });
    await restoreAsLifecycle(b.layers, 'download-is-number');
    const second = await build('npm-fetcher', b, '', npmEnv);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain('Reusing layer is-number');
    expect(second.stdout).toContain('Reusing layer download-is-number');
    expect(second.stdout).not.toContain('Downloading');
    expect((await toml(join(b.layers, 'download-is-number.toml')))['types']).toEqual({ launch: false, build: false, cache: true });
    expect((await toml(join(b.layers, 'is-number.toml')))['types']).toEqual({ launch: true, build: false, cache: false });
  });

  it('names the nearest versions when the constraint cannot be met', async (ctx) => {
    online(ctx);
    const b = await workspace();
    await writeFile(join(b.platform, 'env', 'BP_IS_NUMBER_VERSION'), '^99');
    const r = await build('npm-fetcher', b, '', npmEnv);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/no available version of is-number satisfies "\^99" \(from BP_IS_NUMBER_VERSION\); nearest available: .*7\.0\.0/);
  });
});

describe('the fixture directory', () => {
  it('holds exactly the SDK fixtures with executable bin/detect and bin/build', async () => {
    const names = (await readdir(FIXTURES)).sort();
    expect(names).toEqual(['cacher', 'greeter', 'npm-fetcher', 'sbom-writer']);
    for (const n of names) {
      for (const bin of ['detect', 'build']) expect((await stat(join(FIXTURES, n, 'bin', bin))).mode & 0o111).not.toBe(0);
    }
  });
});
