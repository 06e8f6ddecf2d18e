import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Readable } from 'node:stream';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, MediaType, digestOf, serializeManifest, type Digest, type Image } from '../oci/index.js';
import { imageFromSource, validateImage, writeImage } from '../image/index.js';
import { parseRegistryReference, type StoreReference } from '../reference.js';
import { randomImage } from '../../test/support/random-image.js';
import { listStoreImages, openStoreSink, openStoreSource, removeStoreImage, storeHome, storeLayoutDir } from './index.js';

let tmp: string;
let home: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lading-store-'));
  home = join(tmp, 'home');
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const ref = (name: string): StoreReference => ({ transport: 'store', name: parseRegistryReference(name) });

async function store(name: string, image: Image): Promise<void> {
  const sink = await openStoreSink(ref(name), { home });
  await writeImage(sink, image);
  await sink.commit();
}

async function load(name: string): Promise<Image> {
  const source = await openStoreSource(ref(name), { home });
  const image = await imageFromSource(source, await source.resolve());
  await validateImage(image);
  await source.close();
  return image;
}

describe('local image store', () => {
  it('finds its home from options, LADING_HOME, XDG_DATA_HOME, then HOME', () => {
    expect(storeHome({ home: '/x/y' })).toBe('/x/y');
    expect(storeHome({ env: { LADING_HOME: '/l', XDG_DATA_HOME: '/d', HOME: '/h' } })).toBe('/l');
    expect(storeHome({ env: { XDG_DATA_HOME: '/d', HOME: '/h' } })).toBe('/d/lading');
    expect(storeHome({ env: { HOME: '/h' } })).toBe('/h/.local/share/lading');
    expect(storeLayoutDir({ env: { LADING_HOME: '/l' } })).toBe('/l/store');
  });

  it('stores names in familiar form and finds them however they are spelled', async () => {
    const a = await randomImage({ layers: 1 });
    const b = await randomImage({ layers: 2 });
    await store('myapp', a);
    await store('127.0.0.1:5000/team/app:v1', b);
    const index = JSON.parse(readFileSync(join(home, 'store', 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']))
      .toEqual(['myapp:latest', '127.0.0.1:5000/team/app:v1']);
    for (const name of ['myapp', 'myapp:latest', 'docker.io/library/myapp:latest', `myapp@${a.descriptor.digest}`]) {
      expect((await load(name)).descriptor.digest, name).toBe(a.descriptor.digest);
    }
    expect((await load('127.0.0.1:5000/team/app:v1')).rawManifest.equals(b.rawManifest)).toBe(true);
  });

  it('lists images with digest, media type, created and size; re-storing a name replaces it', async () => {
    const a = await randomImage({ layers: 2 });
    const b = await randomImage({ layers: 1, docker: true });
    await store('zeta:1', a);
    await store('alpha:2', b);
    await store('zeta:1', b);
    const sizeOf = (i: Image): number => i.descriptor.size + i.manifest.config.size + i.layers.reduce((n, l) => n + l.size, 0);
    expect(await listStoreImages({ home })).toEqual([
      { name: 'alpha:2', digest: b.descriptor.digest, mediaType: MediaType.DockerManifest, created: '1980-01-01T00:00:01Z', size: sizeOf(b) },
      { name: 'zeta:1', digest: b.descriptor.digest, mediaType: MediaType.DockerManifest, created: '1980-01-01T00:00:01Z', size: sizeOf(b) },
    ]);
    expect(await listStoreImages({ home: join(tmp, 'empty') })).toEqual([]);
    rmSync(join(home, 'store', 'blobs', 'sha256', b.manifest.config.digest.slice(7)));
    expect((await listStoreImages({ home }))[0]).toEqual({ name: 'alpha:2', digest: b.descriptor.digest, mediaType: MediaType.DockerManifest, size: b.descriptor.size });
  });

  it('removes a name, and the referrers of a manifest no other name keeps', async () => {
    const a = await randomImage({ layers: 1 });
    await store('keep:1', await randomImage({ layers: 1 }));
    const sink = await openStoreSink(ref('gone:1'), { home });
    await writeImage(sink, a);
    const blob = Buffer.from('sbom');
    await sink.putBlob({ mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as Digest, size: 2 }, async () => Readable.from([EMPTY_JSON]));
    await sink.putBlob({ mediaType: MediaType.Spdx, digest: digestOf(blob), size: 4 }, async () => Readable.from([blob]));
    const { bytes } = serializeManifest({
      schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: MediaType.Spdx,
      config: { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as Digest, size: 2 },
      layers: [{ mediaType: MediaType.Spdx, digest: digestOf(blob), size: 4 }], subject: a.descriptor,
    });
    await sink.putManifest(bytes, MediaType.OciManifest);
    await sink.commit();
    const source = await openStoreSource(ref('gone:1'), { home });
    expect(await source.referrers(a.descriptor.digest)).toHaveLength(1);
    expect((await removeStoreImage('gone:1', { home })).digest).toBe(a.descriptor.digest);
    const index = JSON.parse(readFileSync(join(home, 'store', 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
    expect((await listStoreImages({ home })).map((i) => i.name)).toEqual(['keep:1']);
    await expect(removeStoreImage('gone:1', { home })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(removeStoreImage('x', { home: join(tmp, 'none') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('says what it has when a name is missing', async () => {
    const empty = await openStoreSource(ref('nothing'), { home });
    await expect(empty.resolve()).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('"nothing:latest"') });
    await store('app:v1', await randomImage({ layers: 1 }));
    const source = await openStoreSource(ref('app:v2'), { home });
    await expect(source.resolve()).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('the store has app:v1') });
    await expect(openStoreSink(ref(`app@${digestOf('x')}`), { home })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('parallel sinks writing different names keep every entry', async () => {
    const images = await Promise.all(Array.from({ length: 8 }, () => randomImage({ layers: 2 })));
    await Promise.all(images.map((image, i) => store(`parallel/app${i}:v1`, image)));
    const listed = await listStoreImages({ home });
    expect(listed.map((l) => [l.name, l.digest])).toEqual(images.map((image, i) => [`parallel/app${i}:v1`, image.descriptor.digest]));
  });

  it('concurrent processes writing different names keep every entry', { timeout: 60_000 }, async () => {
    const root = resolve(import.meta.dirname, '../..');
    const ts = pathToFileURL(join(root, 'node_modules/typescript/lib/typescript.js')).href;
    // A tiny TS loader so child processes run the real sources (Node 20 cannot strip types).
    writeFileSync(join(tmp, 'hooks.mjs'), `
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from ${JSON.stringify(ts)};
export async function resolve(spec, ctx, next) {
  if (spec.startsWith('.') && spec.endsWith('.js') && ctx.parentURL?.endsWith('.ts')) {
    const url = new URL(spec.slice(0, -3) + '.ts', ctx.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
  }
  return next(spec, ctx);
}
export async function load(url, ctx, next) {
  if (!url.endsWith('.ts')) return next(url, ctx);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const out = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}`);
    writeFileSync(join(tmp, 'register.mjs'), `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(join(tmp, 'hooks.mjs')).href)});`);
    const url = (p: string): string => JSON.stringify(pathToFileURL(join(root, p)).href);
    writeFileSync(join(tmp, 'writer.mjs'), `
const { openStoreSink } = await import(${url('registry/layout/index.ts')});
const { writeImage } = await import(${url('registry/image/index.ts')});
const { parseRegistryReference } = await import(${url('registry/reference.ts')});
const { randomImage } = await import(${url('test/support/random-image.ts')});
const [home, prefix] = process.argv.slice(2);
for (let i = 0; i < 3; i++) {
  const image = await randomImage({ layers: 2 });
  const sink = await openStoreSink({ transport: 'store', name: parseRegistryReference(prefix + '/img' + i + ':v1') }, { home });
  await writeImage(sink, image);
  await sink.commit();
  console.log(prefix + '/img' + i + ':v1 ' + image.descriptor.digest);
}`);
    const runWriter = (prefix: string): Promise<string> => new Promise((done, fail) => {
      const child = spawn(process.execPath, ['--import', pathToFileURL(join(tmp, 'register.mjs')).href, join(tmp, 'writer.mjs'), home, prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', fail);
      child.on('exit', (code) => (code === 0 ? done(out) : fail(new Error(`writer ${prefix} exited ${code}: ${err}`))));
    });
    const outputs = await Promise.all(['p0', 'p1', 'p2', 'p3', 'p4'].map(runWriter));
    const written = outputs.join('').trim().split('\n').map((l) => l.split(' ')).sort();
    expect(written).toHaveLength(15);
    const listed = await listStoreImages({ home });
    expect(listed.map((l) => [l.name, l.digest])).toEqual(written);
    for (const [name] of written.slice(0, 3)) await load(name!);
  });
});
