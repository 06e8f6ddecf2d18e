import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layers } from '../layer.js';
import { Logger } from '../logger.js';
import { fetchCached } from './cache.js';
import { CatalogSource, catalogFromMetadata, distOverride } from './catalog-source.js';
import { HostSource } from './host-source.js';

const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'lading-catalog-'));
  tmp.push(d);
  return d;
};
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

describe('CatalogSource (URL + sha256)', () => {
  let server: Server;
  let base: string;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/go1.22.0.tar.gz') return res.end('pretend toolchain');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reads [[metadata.dependencies]] in libpak and plain shapes, and names a bad entry', () => {
    const entries = catalogFromMetadata({
      dependencies: [
        { id: 'go', version: '1.22.0', uri: 'https://m.test/go.tgz', sha256: 'A'.repeat(64), cpes: ['cpe:2.3:a:golang:go:1.22.0'], licenses: [{ type: 'BSD-3-Clause' }] },
        { name: 'jdk', version: '17.0.1', uri: 'file:///x', checksum: `sha256:${'b'.repeat(64)}`, purl: 'pkg:generic/jdk@17.0.1', licenses: ['GPL-2.0-only'] },
      ],
    });
    expect(entries).toEqual([
      { name: 'go', version: '1.22.0', uri: 'https://m.test/go.tgz', sha256: 'a'.repeat(64), cpe: 'cpe:2.3:a:golang:go:1.22.0', licenses: ['BSD-3-Clause'] },
      { name: 'jdk', version: '17.0.1', uri: 'file:///x', sha256: 'b'.repeat(64), purl: 'pkg:generic/jdk@17.0.1', licenses: ['GPL-2.0-only'] },
    ]);
    expect(() => catalogFromMetadata({ dependencies: [{ id: 'go', version: '1', uri: 'x', sha256: 'short' }] }, '/bp/buildpack.toml')).toThrow(
      '/bp/buildpack.toml: metadata.dependencies[0] needs id (or name), version, uri and a hex sha256',
    );
  });

  it('downloads over http and from file://, verifying sha256; refuses a mismatch', async () => {
    const dir = await tempDir();
    const local = join(dir, 'mirror', 'jdk.tar.gz');
    await mkdir(join(dir, 'mirror'));
    await writeFile(local, 'pretend jdk');
    const src = new CatalogSource({
      entries: [
        { name: 'go', version: '1.22.0', uri: `${base}/go1.22.0.tar.gz`, sha256: sha('pretend toolchain') },
        { name: 'jdk', version: '17.0.1', uri: pathToFileURL(local).toString(), sha256: sha('pretend jdk'), licenses: ['GPL-2.0-only'] },
        { name: 'bad', version: '1.0.0', uri: `${base}/go1.22.0.tar.gz`, sha256: '0'.repeat(64) },
      ],
    });
    expect(await src.versions('go')).toEqual(['1.22.0']);
    const go = await src.fetch('go', '1.22.0', join(dir, 'dl'));
    expect(await readFile(go.path, 'utf8')).toBe('pretend toolchain');
    expect(go.purl).toBe(`pkg:generic/go@1.22.0?download_url=${encodeURIComponent(`${base}/go1.22.0.tar.gz`)}`);
    const jdk = await src.fetch('jdk', '17.0.1', join(dir, 'dl'));
    expect(jdk).toMatchObject({ sha256: sha('pretend jdk'), licenses: ['GPL-2.0-only'], source: 'catalog' });
    await expect(src.fetch('bad', '1.0.0', join(dir, 'bad'))).rejects.toThrow(/bad 1.0.0 from the catalog: sha256 of .* expected 0{64}/);
    expect(await readdir(join(dir, 'bad'))).toEqual([]);
    await expect(src.describe('go', '9.9.9')).rejects.toThrow('the catalog has no go 9.9.9');
  });

  it('caches downloads in a cache=true layer keyed by (name, version, checksum) and re-fetches damaged ones', async () => {
    const layersDir = await tempDir();
    const out: string[] = [];
    const logger = new Logger({ stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } });
    const settings = { buildpack: { id: 'bp', version: '1.0.0', sbomFormats: [] } };
    const src = new CatalogSource({ entries: [{ name: 'go', version: '1.22.0', uri: `${base}/go1.22.0.tar.gz`, sha256: sha('pretend toolchain') }] });

    const first = new Layers(layersDir, settings);
    const a = await fetchCached(first, src, 'go', '1.22.0', logger);
    await first.writeLayerTomls();
    const toml = await readFile(join(layersDir, 'download-go.toml'), 'utf8');
    expect(toml).toContain('cache = true');
    expect(toml).toContain(`checksum = "sha256:${sha('pretend toolchain')}"`);
    expect(out.join('')).toContain('Building layer download-go (no previous layer)');

    // the lifecycle restores the cache layer and its metadata without [types]
    await writeFile(join(layersDir, 'download-go.toml'), toml.replace(/\[types\][^[]*/, ''));
    const before = hits;
    const b = await fetchCached(new Layers(layersDir, settings), src, 'go', '1.22.0', logger);
    expect(hits).toBe(before);
    expect(b.path).toBe(a.path);
    expect(out.join('')).toContain('Reusing layer download-go');

    await writeFile(a.path, 'tampered');
    const c = await fetchCached(new Layers(layersDir, settings), src, 'go', '1.22.0', logger);
    expect(hits).toBe(before + 1);
    expect(await readFile(c.path, 'utf8')).toBe('pretend toolchain');
    expect(out.join('')).toContain('WARNING: cached download of go 1.22.0 in layer download-go is damaged; downloading again');
  });
});

describe('HostSource (the host toolchain, recorded as such)', () => {
  it('finds node on PATH, reads its version and records it with host=true and the binary sha256', async () => {
    const src = new HostSource({
      tools: { node: { command: 'node', versionArgs: ['--version'], versionPattern: /v(\d+\.\d+\.\d+)/ } },
      env: { PATH: dirname(process.execPath) },
    });
    const [v] = await src.versions('node');
    expect(v).toBe(process.versions.node);
    const got = await src.fetch('node', v as string);
    expect(got.purl).toBe(`pkg:generic/node@${v}?host=true`);
    expect(got.source).toBe('host');
    expect(got.checksum).toBe(`sha256:${got.sha256}`);
    await expect(src.fetch('node', '0.0.1')).rejects.toThrow(`the host's node is ${v}, not 0.0.1`);
    await expect(new HostSource({ tools: { go: { command: 'no-such-go', versionArgs: [], versionPattern: /x/ } }, env: { PATH: '/nonexistent' } }).versions('go')).rejects.toThrow(
      "no-such-go is not on the host's PATH (/nonexistent)",
    );
  });

  it('distOverride: both variables or neither, an https/http/file URL and a hex sha256', () => {
    const sha = 'AB'.repeat(32);
    expect(distOverride('BP_X', undefined, ' ')).toBeUndefined();
    expect(distOverride('BP_X', ' https://m.invalid/dl/x-1.2.3.tar.gz ', sha)).toEqual({ uri: 'https://m.invalid/dl/x-1.2.3.tar.gz', sha256: sha.toLowerCase(), fileName: 'x-1.2.3.tar.gz' });
    expect(distOverride('BP_X', 'file:///m/a%20b.tgz', sha)?.fileName).toBe('a b.tgz');
    expect(() => distOverride('BP_X', 'https://m.invalid/x.tgz', undefined)).toThrow('BP_X_DIST_URI and BP_X_DIST_SHA256 go together');
    expect(() => distOverride('BP_X', 'https://m.invalid/x.tgz', 'abc')).toThrow('BP_X_DIST_URI and BP_X_DIST_SHA256 go together');
    expect(() => distOverride('BP_X', 'not a url', sha)).toThrow('BP_X_DIST_URI not a url: not a URL');
    expect(() => distOverride('BP_X', 'ftp://m.invalid/x.tgz', sha)).toThrow('unsupported scheme ftp:');
  });
});

