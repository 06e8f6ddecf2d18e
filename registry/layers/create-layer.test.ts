import { createHash } from 'node:crypto';
import { appendFileSync, rmSync, truncateSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../oci/index.js';
import { validateImage } from '../image/index.js';
import { imageOf } from '../../test/support/random-image.js';
import { createLayer, createLayers, LayerError, NORMALIZED_MTIME, TAR_FORMAT_VERSION, type FileLayer, type LayerSpec } from './index.js';
import { writeSampleTree } from './sample-tree.js';

interface ReadEntry {
  header: tar.Header;
  body: Buffer;
}

async function readLayer(layer: FileLayer): Promise<ReadEntry[]> {
  const extract = tar.extract();
  (await layer.uncompressed()).pipe(extract as unknown as NodeJS.WritableStream);
  const out: ReadEntry[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
    out.push({ header: entry.header, body: Buffer.concat(chunks) });
  }
  return out;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let work: string;
let tree: string;
const made: FileLayer[] = [];
async function build(spec: LayerSpec, options = {}): Promise<FileLayer> {
  const layer = await createLayer(spec, { tempDir: work, ...options });
  made.push(layer);
  return layer;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lading-layers-'));
  tree = join(work, 'app');
  await writeSampleTree(tree);
});
afterAll(async () => {
  await Promise.all(made.map((l) => l.dispose()));
  await rm(work, { recursive: true, force: true });
});

describe('createLayer from a directory', () => {
  it('writes sorted, normalized entries with parents first and no leading slash', async () => {
    const layer = await build({ directories: [{ source: tree, target: '/layers/my-bp/app' }] });
    const entries = await readLayer(layer);
    const names = entries.map((e) => e.header.name.replace(/\/$/, ''));
    expect(names.slice(0, 3)).toEqual(['layers', 'layers/my-bp', 'layers/my-bp/app']);
    const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(names).toEqual(sorted);
    expect(new Set(names).size).toBe(names.length);
    for (const { header } of entries) {
      expect(header.name.startsWith('/')).toBe(false);
      expect(header.mtime.getTime()).toBe(NORMALIZED_MTIME.getTime());
      expect(header.uname).toBe('');
      expect(header.gname).toBe('');
    }
    const byName = new Map(entries.map((e) => [e.header.name.replace(/\/$/, ''), e.header]));
    const at = (rel: string): tar.Header => byName.get(`layers/my-bp/app/${rel}`) as tar.Header;
    expect([byName.get('layers')?.uid, byName.get('layers/my-bp')?.gid]).toEqual([0, 0]);
    expect([byName.get('layers/my-bp/app')?.uid, at('package.json').uid, at('package.json').gid]).toEqual([1000, 1000, 1000]);
    expect(at('bin/start.sh').mode).toBe(0o755); // 0700 on disk: any exec bit → 0755
    expect(at('private.key').mode).toBe(0o644); // 0600 on disk
    expect(at('empty').mode).toBe(0o755); // 0700 on disk
    expect(at('empty/nested-empty').type).toBe('directory');
    expect(at('bin/package-link')).toMatchObject({ type: 'symlink', linkname: '../package.json', size: 0 });
    expect(at('dir-link')).toMatchObject({ type: 'symlink', linkname: 'café' });
    expect(names.some((n) => n.startsWith('layers/my-bp/app/dir-link/'))).toBe(false); // not followed
    // Hard links: the bytewise-first path holds the content, the other links to it.
    expect(at('bin/package-hardlink.json')).toMatchObject({ type: 'file', size: 36 });
    expect(at('package.json')).toMatchObject({ type: 'link', linkname: 'layers/my-bp/app/bin/package-hardlink.json' });
  });

  it('keeps long and non-ASCII names exact', async () => {
    const layer = await build({ directories: [{ source: tree, target: '/workspace' }] });
    const names = (await readLayer(layer)).map((e) => e.header.name);
    expect(names).toContain('workspace/café/naïve.txt');
    expect(names).toContain('workspace/日本語/ファイル.txt');
    expect(names).toContain('workspace/emoji/🦀.txt');
    expect(names).toContain(`workspace/${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}.txt`);
    expect(names).toContain(`workspace/long/${'g'.repeat(150)}.txt`);
    // Bytewise: 'café' < 'package.json' (c < p); '日本語' (UTF-8 e6 97 a5) sorts after every ASCII name.
    const iCafe = names.indexOf('workspace/café/');
    const iJapanese = names.indexOf('workspace/日本語/');
    const iPkg = names.indexOf('workspace/package.json');
    expect(iCafe).toBeLessThan(iPkg);
    expect(iJapanese).toBeGreaterThan(iPkg);
  });

  it('records digest, size and diffID of the spooled blob', async () => {
    const layer = await build({ directories: [{ source: tree, target: '/workspace' }] });
    const blob = await readFile(layer.path);
    expect(layer.mediaType).toBe(MediaType.OciLayerGzip);
    expect(layer.size).toBe(blob.byteLength);
    expect(layer.digest).toBe(sha256(blob));
    const tarBytes = gunzipSync(blob);
    expect(layer.diffId).toBe(sha256(tarBytes));
    expect(layer.uncompressedSize).toBe(tarBytes.byteLength);
    expect(blob.subarray(0, 10)).toEqual(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]));
  });

  it('writes an uncompressed tar on request', async () => {
    const layer = await build({ entries: [{ path: '/a', type: 'file', content: 'x' }] }, { compression: 'none' });
    const blob = await readFile(layer.path);
    expect(layer.mediaType).toBe(MediaType.OciLayer);
    expect(layer.digest).toBe(layer.diffId);
    expect(layer.digest).toBe(sha256(blob));
    expect(blob.byteLength % 512).toBe(0);
  });

  it('is byte-identical across runs, engines and working directories', async () => {
    const spec: LayerSpec = { directories: [{ source: tree, target: '/workspace' }] };
    const a = await build(spec);
    const cwd = process.cwd();
    process.chdir(tree);
    let b: FileLayer;
    try {
      b = await build({ directories: [{ source: '.', target: '/workspace' }] });
    } finally {
      process.chdir(cwd);
    }
    const c = await build(spec, { deflate: 'portable' });
    expect(b.digest).toBe(a.digest);
    expect(c.digest).toBe(a.digest);
    expect((await readFile(c.path)).equals(await readFile(a.path))).toBe(true);
  });

  it('applies filters, owners and the parent owner', async () => {
    const layer = await build(
      { directories: [{ source: tree, target: '/srv/app', filter: (p) => !p.startsWith('node_modules') && p !== 'private.key' }] },
      { uid: 1001, gid: 1002, parentUid: 7, parentGid: 8 },
    );
    const entries = await readLayer(layer);
    const names = entries.map((e) => e.header.name);
    expect(names.some((n) => n.includes('node_modules'))).toBe(false);
    expect(names).not.toContain('srv/app/private.key');
    expect(entries[0]?.header).toMatchObject({ name: 'srv/', uid: 7, gid: 8 });
    expect(entries.find((e) => e.header.name === 'srv/app/package.json')?.header).toMatchObject({ uid: 1001, gid: 1002 });
  });
});

describe('createLayer from explicit entries', () => {
  it('writes files, dirs, symlinks and hard links with their modes and owners', async () => {
    const host = join(work, 'host-file.sh');
    await writeFile(host, '#!/bin/sh\n');
    await chmod(host, 0o750);
    const layer = await build({
      entries: [
        { path: '/cnb/process/web', type: 'symlink', target: '/cnb/lifecycle/launcher' },
        { path: '/cnb/lifecycle/launcher', type: 'file', source: host, uid: 0, gid: 0 },
        { path: '/etc/app.conf', type: 'file', content: Buffer.from('k=v\n'), mode: 0o4750 },
        { path: '/etc/alias.conf', type: 'hardlink', target: '/etc/app.conf' },
        { path: '/tmp', type: 'dir', mode: 0o1777, uid: 0, gid: 0 },
      ],
    });
    const entries = await readLayer(layer);
    expect(entries.map((e) => e.header.name)).toEqual([
      'cnb/', 'cnb/lifecycle/', 'cnb/lifecycle/launcher', 'cnb/process/', 'cnb/process/web',
      'etc/', 'etc/alias.conf', 'etc/app.conf', 'tmp/',
    ]);
    const h = (name: string): tar.Header => entries.find((e) => e.header.name === name)?.header as tar.Header;
    expect(h('cnb/lifecycle/launcher')).toMatchObject({ mode: 0o755, uid: 0, gid: 0, size: 10 });
    expect(h('cnb/process/web')).toMatchObject({ type: 'symlink', linkname: '/cnb/lifecycle/launcher', uid: 1000 });
    // The link sorts first, so it carries the content and the named target becomes the link.
    expect(h('etc/alias.conf')).toMatchObject({ type: 'file', mode: 0o4750, size: 4 });
    expect(h('etc/app.conf')).toMatchObject({ type: 'link', linkname: 'etc/alias.conf' });
    expect(h('tmp/')).toMatchObject({ mode: 0o1777, uid: 0 });
    expect(entries.find((e) => e.header.name === 'etc/alias.conf')?.body.toString()).toBe('k=v\n');
  });

  it('rejects ids a tar header cannot hold instead of clamping them', async () => {
    await expect(build({ entries: [{ path: '/a', type: 'file', content: 'x', uid: 262144 }] })).rejects.toThrow(
      /entry \/a: uid 262144 is outside 0\.\.262143/,
    );
    await expect(build({ entries: [] }, { gid: 300000 })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(build({ directories: [{ source: tree, target: '/w', uid: 1 << 20 }] })).rejects.toThrow(LayerError);
  });

  it('rejects duplicates, bad paths and entries below files', async () => {
    await expect(build({ entries: [{ path: '/a', type: 'file', content: '' }, { path: '/a/', type: 'dir' }] })).rejects.toThrow(/\/a is given twice/);
    await expect(build({ entries: [{ path: 'rel', type: 'dir' }] })).rejects.toThrow(/must be absolute/);
    await expect(build({ entries: [{ path: '/a/../b', type: 'dir' }] })).rejects.toThrow(/not normalized/);
    await expect(build({ entries: [{ path: '/f', type: 'file', content: '' }, { path: '/f/g', type: 'dir' }] })).rejects.toThrow(/below \/f, which is a file/);
    await expect(build({ entries: [{ path: '/l', type: 'hardlink', target: '/missing' }] })).rejects.toThrow(/not in the layer/);
    await expect(build({ entries: [{ path: '/w', type: 'dir' }], directories: [{ source: tree, target: '/w' }] })).rejects.toThrow(/given twice/);
  });

  it('fails on files that vanish or change size after listing, leaving no temp file', async () => {
    const dir = join(work, 'changing');
    await mkdir(dir, { recursive: true });
    const tempFiles = async (): Promise<number> => (await readdir(work)).filter((n) => n.startsWith('lading-layer-')).length;
    const before = await tempFiles();
    const cases: Array<[string, (p: string) => void, RegExp]> = [
      ['gone.txt', (p) => rmSync(p), /cannot read file .*gone\.txt: ENOENT/],
      ['grown.txt', (p) => appendFileSync(p, 'more'), /grown\.txt changed while the layer was written \(1 bytes when listed, 5 read\)/],
      ['big.bin', (p) => truncateSync(p, 1000), /big\.bin changed while the layer was written/],
    ];
    for (const [name, change, message] of cases) {
      await writeFile(join(dir, name), name === 'big.bin' ? Buffer.alloc(3 << 20) : 'x');
      // The walk lstat()s a directory's entries before filtering them, so 'a' sees the listed sizes.
      await writeFile(join(dir, 'a'), '');
      const filter = (p: string): boolean => {
        if (p === 'a') change(join(dir, name));
        return true;
      };
      await expect(build({ directories: [{ source: dir, target: '/c', filter }] })).rejects.toThrow(message);
      await rm(join(dir, name), { force: true });
    }
    expect(await tempFiles()).toBe(before);
  });
});

describe('special files', () => {
  it('fail with the file named, or are skipped on request', async () => {
    const dir = join(work, 'special');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ok.txt'), 'ok');
    const { createServer } = await import('node:net');
    const server = createServer();
    const sock = join(dir, 'app.sock');
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      await expect(build({ directories: [{ source: dir, target: '/s' }] })).rejects.toThrow(`layer source ${sock} is a socket`);
      const layer = await build({ directories: [{ source: dir, target: '/s' }] }, { specialFiles: 'skip' });
      expect((await readLayer(layer)).map((e) => e.header.name)).toEqual(['s/', 's/ok.txt']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('file names that are not UTF-8', () => {
  it('fail with the directory named (tar names are UTF-8; a lossy name would change the file)', async () => {
    const dir = join(work, 'latin1');
    await mkdir(dir, { recursive: true });
    await writeFile(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9])]), 'x');
    await expect(build({ directories: [{ source: dir, target: '/l' }] })).rejects.toThrow(`in ${dir} is not valid UTF-8`);
  });
});

describe('createLayers', () => {
  it('builds several layers in order and they validate inside an image', async () => {
    const layers = await createLayers(
      [
        { directories: [{ source: join(tree, 'bin'), target: '/layers/bp/bin' }] },
        { entries: [{ path: '/workspace/hello.txt', type: 'file', content: 'hello\n' }] },
        { directories: [{ source: tree, target: '/workspace' }] },
      ],
      { tempDir: work },
    );
    made.push(...layers);
    expect(layers).toHaveLength(3);
    expect(new Set(layers.map((l) => l.digest)).size).toBe(3);
    await expect(validateImage(imageOf(layers))).resolves.toBeUndefined();
  });

  it('disposes what it built when one layer fails', async () => {
    const before = (await readdir(work)).filter((n) => n.startsWith('lading-layer-')).length;
    await expect(
      createLayers([{ entries: [{ path: '/ok', type: 'file', content: 'x' }] }, { entries: [{ path: '/bad', type: 'file', content: 'x', gid: -1 }] }], { tempDir: work, concurrency: 1 }),
    ).rejects.toThrow(/gid -1/);
    expect((await readdir(work)).filter((n) => n.startsWith('lading-layer-')).length).toBe(before);
  });
});

describe('TAR_FORMAT_VERSION', () => {
  it('names these tar bytes: a change to them must bump it (the exporter keeps diffIDs of trees it does not pack again)', async () => {
    const layer = await createLayer({
      entries: [
        { type: 'dir', path: '/layers/bp/node' },
        { type: 'file', path: '/layers/bp/node/bin/node', content: 'binary', mode: 0o755 },
        { type: 'symlink', path: '/layers/bp/node/bin/npm', target: '../lib/npm.js' },
        { type: 'hardlink', path: '/layers/bp/node/bin/nodejs', target: '/layers/bp/node/bin/node' },
        { type: 'file', path: '/layers/bp/node/lib/npm.js', content: 'npm' },
      ],
    }, { uid: 1000, gid: 1000, parentUid: 1000, parentGid: 1000 });
    try {
      // If this fails after a deliberate change to the tar writer or the planner, bump TAR_FORMAT_VERSION
      // and update both values together.
      expect({ version: TAR_FORMAT_VERSION, diffId: layer.diffId }).toEqual({ version: 1, diffId: 'sha256:3b3dead73f1e32707f225089dc7412bf7b8318b9de103ede81a968dc2822e2b9' });
    } finally {
      await layer.dispose();
    }
  });
});
