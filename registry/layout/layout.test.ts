import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync, mkdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  EMPTY_JSON, EMPTY_JSON_DIGEST, LadingError, MediaType, digestOf, serializeManifest, type ContentSink, type Digest, type Image,
} from '../oci/index.js';
import { imageFromSource, readAll, validateImage, writeImage } from '../image/index.js';
import { imageOf, randomImage } from '../../test/support/random-image.js';
import { openLayoutSink, openLayoutSource } from './index.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lading-layout-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

async function write(path: string, tag: string | undefined, image: Image): Promise<void> {
  const sink = await openLayoutSink({ transport: 'oci', path, ...(tag ? { tag } : {}) });
  await writeImage(sink, image);
  await sink.commit();
}

async function read(path: string, tag?: string): Promise<Image> {
  const source = await openLayoutSource({ transport: 'oci', path, ...(tag ? { tag } : {}) });
  const image = await imageFromSource(source, await source.resolve());
  await validateImage(image);
  return image;
}

/** Every file under `dir` with its bytes, to prove a failed write changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string, prefix: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out[`${prefix}${e.name}/`] = '';
        walk(p, `${prefix}${e.name}/`);
      } else out[`${prefix}${e.name}`] = readFileSync(p).toString('base64');
    }
  };
  walk(dir, '');
  return out;
}

/** An artifact manifest (SBOM-like) whose subject is `image`. */
async function putReferrer(sink: ContentSink, image: Image, body: string): Promise<Digest> {
  const blob = Buffer.from(body);
  await sink.putBlob({ mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as Digest, size: 2 }, async () => Readable.from([EMPTY_JSON]));
  const layer = { mediaType: MediaType.CycloneDx, digest: digestOf(blob), size: blob.byteLength };
  await sink.putBlob(layer, async () => Readable.from([blob]));
  const { bytes } = serializeManifest({
    schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: MediaType.CycloneDx,
    config: { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as Digest, size: 2 }, layers: [layer],
    subject: image.descriptor, annotations: { 'org.example.kind': 'sbom' },
  });
  return (await sink.putManifest(bytes, MediaType.OciManifest, { tag: false })).digest;
}

describe('OCI layout sink and source', () => {
  it('round-trips an image with identical manifest bytes and a spec-shaped layout', async () => {
    const image = await randomImage({ layers: 3 });
    const dir = join(tmp, 'a', 'layout');
    await write(dir, 'v1', image);
    const back = await read(dir, 'v1');
    expect(back.descriptor).toEqual(image.descriptor);
    expect(back.rawManifest.equals(image.rawManifest)).toBe(true);
    expect(back.rawConfig.equals(image.rawConfig)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    expect(index).toEqual({
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [{ ...image.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
    });
    const blobs = readdirSync(join(dir, 'blobs', 'sha256')).sort();
    const expected = [image.descriptor.digest, image.manifest.config.digest, ...image.layers.map((l) => l.digest)].map((d) => d.slice(7)).sort();
    expect(blobs).toEqual(expected);
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('copies layout → layout byte for byte, Docker schema2 and uncompressed layers included', async () => {
    const image = await randomImage({ layers: 2, docker: true, compressed: false });
    await write(join(tmp, 'one'), 'x', image);
    await write(join(tmp, 'two'), 'y', await read(join(tmp, 'one'), 'x'));
    const back = await read(join(tmp, 'two'), 'y');
    expect(back.descriptor).toEqual({ mediaType: MediaType.DockerManifest, digest: image.descriptor.digest, size: image.descriptor.size });
    expect(back.rawManifest.equals(image.rawManifest)).toBe(true);
  });

  it('writes an image that repeats a layer (the same blob put twice at once)', async () => {
    const image = await randomImage({ layers: 1 });
    const twice = imageOf([image.layers[0]!, image.layers[0]!]);
    const sink = await openLayoutSink({ transport: 'oci', path: join(tmp, 'twice'), tag: 'v1' });
    const result = await writeImage(sink, twice);
    await sink.commit();
    expect(result.layers).toEqual(['uploaded', 'exists']);
    expect((await read(join(tmp, 'twice'), 'v1')).layers).toHaveLength(2);
  });

  it('holds several tagged images; re-tagging replaces the entry; shared blobs are stored once', async () => {
    const dir = join(tmp, 'multi');
    const a = await randomImage({ layers: 1 });
    const b = await randomImage({ layers: 2 });
    await write(dir, 'a', a);
    await write(dir, 'b', b);
    await write(dir, 'latest', a);
    expect((await read(dir, 'a')).descriptor.digest).toBe(a.descriptor.digest);
    expect((await read(dir, 'b')).descriptor.digest).toBe(b.descriptor.digest);
    await write(dir, 'a', b);
    expect((await read(dir, 'a')).descriptor.digest).toBe(b.descriptor.digest);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'])).toEqual(['b', 'latest', 'a']);
    // a by digest, and the "only image" rule refusing to guess among several
    const byDigest = await openLayoutSource({ transport: 'oci', path: dir, digest: a.descriptor.digest });
    expect((await byDigest.resolve()).digest).toBe(a.descriptor.digest);
    const noTag = await openLayoutSource({ transport: 'oci', path: dir });
    await expect(noTag.resolve()).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('tags: b, latest, a') });
  });

  it('resolves the only image without a tag, and writes an untagged entry without one', async () => {
    const image = await randomImage({ layers: 1 });
    await write(join(tmp, 'untagged'), undefined, image);
    const index = JSON.parse(readFileSync(join(tmp, 'untagged', 'index.json'), 'utf8'));
    expect(index.manifests).toEqual([image.descriptor]);
    expect((await read(join(tmp, 'untagged'))).descriptor.digest).toBe(image.descriptor.digest);
  });

  it('stores referrers as untagged entries and finds them by subject', async () => {
    const dir = join(tmp, 'refs');
    const image = await randomImage({ layers: 1 });
    const sink = await openLayoutSink({ transport: 'oci', path: dir, tag: 'v1' });
    await writeImage(sink, image);
    const referrer = await putReferrer(sink, image, '{"bomFormat":"CycloneDX"}');
    await sink.commit();
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests[1]).toMatchObject({ digest: referrer, artifactType: MediaType.CycloneDx, annotations: { 'org.example.kind': 'sbom' } });
    expect(index.manifests[1].annotations['org.opencontainers.image.ref.name']).toBeUndefined();
    const source = await openLayoutSource({ transport: 'oci', path: dir });
    expect((await source.resolve()).digest).toBe(image.descriptor.digest); // the referrer is not "another image"
    const found = await source.referrers(image.descriptor.digest);
    expect(found).toEqual([expect.objectContaining({ digest: referrer, mediaType: MediaType.OciManifest, artifactType: MediaType.CycloneDx })]);
    expect(await source.referrers(referrer)).toEqual([]);
  });

  it('shows nothing under the tag before commit; abort restores the destination exactly', async () => {
    const dir = join(tmp, 'abort');
    const old = await randomImage({ layers: 1 });
    await write(dir, 'v1', old);
    const before = snapshot(dir);
    const sink = await openLayoutSink({ transport: 'oci', path: dir, tag: 'v1' });
    await writeImage(sink, await randomImage({ layers: 2 }));
    expect((await read(dir, 'v1')).descriptor.digest).toBe(old.descriptor.digest);
    await sink.abort();
    expect(snapshot(dir)).toEqual(before);
  });

  it('a write failing midway (bad blob) leaves the destination as before, also when it did not exist', async () => {
    const image = await randomImage({ layers: 3 });
    const broken: Image = { ...image, layers: image.layers.map((l, i) => (i === 2 ? { ...l, compressed: async () => Readable.from([Buffer.from('tampered')]) } : l)) };
    const existing = join(tmp, 'existing');
    await write(existing, 'keep', await randomImage({ layers: 1 }));
    for (const dir of [existing, join(tmp, 'new', 'deeper')]) {
      const before = snapshot(dir);
      const sink = await openLayoutSink({ transport: 'oci', path: dir, tag: 'v1' });
      const err = await writeImage(sink, broken).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining(image.layers[2]!.digest) });
      await sink.abort();
      expect(snapshot(dir)).toEqual(before);
    }
    expect(existsSync(join(tmp, 'new'))).toBe(false);
  });

  it('opens a layout another writer is creating (only its hidden temp files exist yet)', async () => {
    const dir = join(tmp, 'racing');
    mkdirSync(join(dir, '.lading-tmp-other'), { recursive: true });
    writeFileSync(join(dir, '.oci-layout.tmp-1-abc'), '');
    writeFileSync(join(dir, 'index.json.lock'), '');
    const sink = await openLayoutSink({ transport: 'oci', path: dir, tag: 'v1' });
    await sink.abort();
    expect(readdirSync(dir).sort()).toEqual(['.lading-tmp-other', '.oci-layout.tmp-1-abc', 'index.json.lock']);
  });

  it('removes staging directories a crashed writer left a day ago, not recent ones', async () => {
    const dir = join(tmp, 'crashed');
    await write(dir, 'v1', await randomImage({ layers: 1 }));
    for (const name of ['.lading-tmp-old', '.lading-tmp-new']) mkdirSync(join(dir, name));
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    utimesSync(join(dir, '.lading-tmp-old'), dayAgo, dayAgo);
    await write(dir, 'v2', await randomImage({ layers: 1 }));
    expect(readdirSync(dir).sort()).toEqual(['.lading-tmp-new', 'blobs', 'index.json', 'oci-layout']);
  });

  it('refuses a manifest whose blobs were not written, and one of an unknown media type', async () => {
    const sink = await openLayoutSink({ transport: 'oci', path: join(tmp, 'x'), tag: 'v1' });
    const image = await randomImage({ layers: 1 });
    await expect(sink.putManifest(image.rawManifest, image.descriptor.mediaType, { tag: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(sink.putManifest(Buffer.from('{"schemaVersion":2,"mediaType":"application/x-weird"}'), 'application/x-weird')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await sink.abort();
    expect(existsSync(join(tmp, 'x'))).toBe(false);
  });
});

describe('OCI layout source: bad input', () => {
  it('a missing directory is NOT_FOUND naming it', async () => {
    const dir = join(tmp, 'nope');
    await expect(openLayoutSource({ transport: 'oci', path: dir })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(dir) });
  });

  it('corrupt index.json and oci-layout are CONTENT_INVALID naming the file', async () => {
    const dir = join(tmp, 'corrupt');
    await write(dir, 'v1', await randomImage({ layers: 1 }));
    writeFileSync(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[{"digest":');
    await expect(openLayoutSource({ transport: 'oci', path: dir, tag: 'v1' })).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining(join(dir, 'index.json')) });
    writeFileSync(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:nothex","size":1}]}');
    await expect(openLayoutSource({ transport: 'oci', path: dir, tag: 'v1' })).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('index.json') });
    // a sink refuses it too, before writing anything
    await expect(openLayoutSink({ transport: 'oci', path: dir, tag: 'v2' })).rejects.toMatchObject({ code: 'CONTENT_INVALID' });
    writeFileSync(join(dir, 'oci-layout'), 'not json');
    await expect(openLayoutSource({ transport: 'oci', path: dir })).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining(join(dir, 'oci-layout')) });
    const plain = join(tmp, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'file.txt'), 'x');
    await expect(openLayoutSource({ transport: 'oci', path: plain })).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('not an OCI image layout') });
    await expect(openLayoutSink({ transport: 'oci', path: plain, tag: 'v1' })).rejects.toMatchObject({ code: 'CONTENT_INVALID' });
  });

  it('an unknown tag is NOT_FOUND listing the tags there are', async () => {
    const dir = join(tmp, 'tags');
    await write(dir, 'one', await randomImage({ layers: 1 }));
    await write(dir, 'two', await randomImage({ layers: 1 }));
    const source = await openLayoutSource({ transport: 'oci', path: dir, tag: 'three' });
    await expect(source.resolve()).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/no image tagged "three" \(tags: one, two\)/) });
  });

  it('a blob whose content does not match its digest fails when read', async () => {
    const dir = join(tmp, 'tampered');
    const image = await randomImage({ layers: 2 });
    await write(dir, 'v1', image);
    const layer = image.layers[1]!;
    const path = join(dir, 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = readFileSync(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(path, bytes);
    const back = await (async () => {
      const s = await openLayoutSource({ transport: 'oci', path: dir, tag: 'v1' });
      return imageFromSource(s, await s.resolve());
    })();
    await expect(readAll(await back.layers[1]!.compressed())).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining(layer.digest) });
    await expect(validateImage(back)).rejects.toThrow(/layer 1/);
    // a tampered manifest fails on fetch
    const mpath = join(dir, 'blobs', 'sha256', image.descriptor.digest.slice(7));
    writeFileSync(mpath, Buffer.concat([readFileSync(mpath), Buffer.from(' ')]));
    const s2 = await openLayoutSource({ transport: 'oci', path: dir, tag: 'v1' });
    await expect(s2.manifest(image.descriptor.digest)).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining(image.descriptor.digest) });
  });

  it('a manifest of an unknown media type is UNSUPPORTED', async () => {
    const dir = join(tmp, 'weird');
    await write(dir, 'v1', await randomImage({ layers: 1 }));
    const body = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json"}');
    const digest = digestOf(body);
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), body);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    index.manifests.push({ mediaType: 'application/vnd.example.thing+json', digest, size: body.byteLength, annotations: { 'org.opencontainers.image.ref.name': 'weird' } });
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    const source = await openLayoutSource({ transport: 'oci', path: dir, tag: 'weird' });
    await expect(source.resolve()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(source.manifest(digest)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(imageFromSource(source, { mediaType: MediaType.OciManifest, digest, size: body.byteLength })).rejects.toBeInstanceOf(LadingError);
  });
});
