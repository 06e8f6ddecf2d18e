import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MediaType, type ContentSink, type ContentSource, type Image } from '../oci/index.js';
import { imageFromSource, validateImage, writeImage } from '../image/index.js';
import { copy } from '../copy/index.js';
import { parseRegistryReference } from '../reference.js';
import { openLayoutSink, openLayoutSource } from '../layout/index.js';
import { randomImage } from '../../test/support/random-image.js';
import { openDockerArchiveSink, openDockerArchiveSource, openOciArchiveSink, openOciArchiveSource } from './index.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lading-archive-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const ociArchive = (path: string, tag?: string) => ({ transport: 'oci-archive' as const, path, ...(tag ? { tag } : {}) });
const dockerArchive = (path: string, name?: string) => ({ transport: 'docker-archive' as const, path, ...(name ? { name: parseRegistryReference(name) } : {}) });

async function writeTo(sink: ContentSink, image: Image): Promise<void> {
  await writeImage(sink, image);
  await sink.commit();
}

async function readFrom(source: ContentSource): Promise<Image> {
  const image = await imageFromSource(source, await source.resolve());
  await validateImage(image);
  return image;
}

/** Tar listing and manifest.json of an archive, via GNU tar. */
const listing = (file: string): string[] => execFileSync('tar', ['-tf', file]).toString().trim().split('\n');
const member = (file: string, name: string): string => execFileSync('tar', ['-xOf', file, name]).toString();

describe('oci-archive', () => {
  it('layout → oci-archive → layout keeps manifest bytes and digests; no temp files are left', async () => {
    const image = await randomImage({ layers: 3 });
    const file = join(tmp, 'image.tar');
    await writeTo(await openOciArchiveSink(ociArchive(file, 'v1')), image);
    expect(listing(file)).toEqual(expect.arrayContaining(['oci-layout', 'index.json', `blobs/sha256/${image.descriptor.digest.slice(7)}`]));
    expect(listing(file).some((n) => n.includes('.lading-tmp') || n.includes('.lock'))).toBe(false);
    const source = await openOciArchiveSource(ociArchive(file, 'v1'));
    const back = await readFrom(source);
    expect(back.rawManifest.equals(image.rawManifest)).toBe(true);
    await copy(source, await openLayoutSink({ transport: 'oci', path: join(tmp, 'layout'), tag: 'v1' }));
    await source.close();
    const layout = await openLayoutSource({ transport: 'oci', path: join(tmp, 'layout'), tag: 'v1' });
    expect((await readFrom(layout)).descriptor).toEqual(image.descriptor);
    expect(readdirSync(tmp).sort()).toEqual(['image.tar', 'layout']);
  });

  it('is deterministic: the same image gives the same archive bytes', async () => {
    const image = await randomImage({ layers: 2 });
    await writeTo(await openOciArchiveSink(ociArchive(join(tmp, 'a.tar'), 'v1')), image);
    await writeTo(await openOciArchiveSink(ociArchive(join(tmp, 'b.tar'), 'v1')), image);
    expect(readFileSync(join(tmp, 'a.tar')).equals(readFileSync(join(tmp, 'b.tar')))).toBe(true);
  });

  it('writing into an existing archive keeps its other tags and replaces this one', async () => {
    const file = join(tmp, 'multi.tar');
    const [a, b, c] = await Promise.all([randomImage({ layers: 1 }), randomImage({ layers: 1 }), randomImage({ layers: 2 })]);
    await writeTo(await openOciArchiveSink(ociArchive(file, 'a')), a);
    await writeTo(await openOciArchiveSink(ociArchive(file, 'b')), b);
    await writeTo(await openOciArchiveSink(ociArchive(file, 'a')), c);
    for (const [tag, image] of [['a', c], ['b', b]] as const) {
      const source = await openOciArchiveSource(ociArchive(file, tag));
      expect((await readFrom(source)).descriptor.digest, tag).toBe(image.descriptor.digest);
      await source.close();
    }
    const index = JSON.parse(member(file, 'index.json'));
    expect(index.manifests).toHaveLength(2);
    const noTag = await openOciArchiveSource(ociArchive(file));
    await expect(noTag.resolve()).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining(`oci-archive:${file}`) });
    await noTag.close();
  });

  it('abort leaves an existing archive byte-identical and writes no new file', async () => {
    const file = join(tmp, 'keep.tar');
    await writeTo(await openOciArchiveSink(ociArchive(file, 'v1')), await randomImage({ layers: 1 }));
    const before = readFileSync(file);
    const image = await randomImage({ layers: 2 });
    const broken: Image = { ...image, layers: [image.layers[0]!, { ...image.layers[1]!, compressed: async () => Readable.from([Buffer.from('junk')]) }] };
    for (const dest of [file, join(tmp, 'fresh.tar')]) {
      const sink = await openOciArchiveSink(ociArchive(dest, 'v2'));
      await expect(writeImage(sink, broken)).rejects.toMatchObject({ code: 'CONTENT_INVALID' });
      await sink.abort();
    }
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(tmp)).toEqual(['keep.tar']);
  });

  it('a writer that staged while another replaced the archive fails instead of dropping the other’s image', async () => {
    const file = join(tmp, 'race.tar');
    const [a, b] = await Promise.all([randomImage({ layers: 1 }), randomImage({ layers: 1 })]);
    const first = await openOciArchiveSink(ociArchive(file, 'a'));
    const second = await openOciArchiveSink(ociArchive(file, 'b'));
    await writeTo(first, a);
    const after = readFileSync(file);
    await writeImage(second, b);
    await expect(second.commit()).rejects.toMatchObject({ code: 'IO', temporary: true, message: expect.stringContaining('changed by another writer') });
    expect(readFileSync(file).equals(after)).toBe(true);
    expect(readdirSync(tmp)).toEqual(['race.tar']);
  });

  it('bad input: a missing archive, a non-tar file, a tar without a layout, an unknown tag', async () => {
    await expect(openOciArchiveSource(ociArchive(join(tmp, 'none.tar')))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('none.tar') });
    writeFileSync(join(tmp, 'junk.tar'), 'this is not a tar archive at all'.repeat(40));
    await expect(openOciArchiveSource(ociArchive(join(tmp, 'junk.tar')))).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('junk.tar') });
    mkdirSync(join(tmp, 'd'));
    writeFileSync(join(tmp, 'd', 'hello'), 'hi');
    execFileSync('tar', ['-cf', join(tmp, 'plain.tar'), '-C', join(tmp, 'd'), '.']);
    await expect(openOciArchiveSource(ociArchive(join(tmp, 'plain.tar')))).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining(`${join(tmp, 'plain.tar')} is not an OCI image layout`) });
    await writeTo(await openOciArchiveSink(ociArchive(join(tmp, 'x.tar'), 'v1')), await randomImage({ layers: 1 }));
    const source = await openOciArchiveSource(ociArchive(join(tmp, 'x.tar'), 'v9'));
    await expect(source.resolve()).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('tags: v1') });
    await source.close();
    await expect(openOciArchiveSink(ociArchive(join(tmp, 'no', 'dir.tar'), 'v1'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('reads a gzip-compressed archive with hard-linked and symlinked blobs', async () => {
    const image = await randomImage({ layers: 1 });
    await writeTo(await openOciArchiveSink(ociArchive(join(tmp, 'plain.tar'), 'v1')), image);
    const dir = join(tmp, 'unpacked');
    mkdirSync(dir);
    execFileSync('tar', ['-xf', join(tmp, 'plain.tar'), '-C', dir]);
    const blobs = join(dir, 'blobs', 'sha256');
    const [layerHex, configHex] = [image.layers[0]!.digest.slice(7), image.manifest.config.digest.slice(7)];
    execFileSync('sh', ['-c', `mv ${layerHex} ../layer && ln ../layer ${layerHex} && mv ${configHex} ../config && ln -s ../config ${configHex}`], { cwd: blobs });
    execFileSync('tar', ['-czf', join(tmp, 'linked.tar.gz'), '-C', dir, '.']);
    expect(execFileSync('tar', ['-tvzf', join(tmp, 'linked.tar.gz')]).toString()).toMatch(/link to|->/);
    const source = await openOciArchiveSource(ociArchive(join(tmp, 'linked.tar.gz'), 'v1'));
    expect((await readFrom(source)).descriptor).toEqual(image.descriptor);
    await source.close();
  });

  it('refuses archive entries that escape the extraction directory', async () => {
    mkdirSync(join(tmp, 'evil'));
    symlinkSync('/etc', join(tmp, 'evil', 'link'));
    execFileSync('tar', ['-cf', join(tmp, 'evil.tar'), '-C', join(tmp, 'evil'), 'link']);
    await expect(openOciArchiveSource(ociArchive(join(tmp, 'evil.tar')))).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('outside the archive') });
    writeFileSync(join(tmp, 'f'), 'x');
    execFileSync('tar', ['-cf', join(tmp, 'dots.tar'), '-P', '--transform', 's|.*|../../escape|', join(tmp, 'f')]);
    await expect(openOciArchiveSource(ociArchive(join(tmp, 'dots.tar')))).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('outside the archive') });
  });
});

describe('docker-archive', () => {
  it('layout → docker-archive → layout keeps manifest bytes and digests, in Docker ≥25 structure', async () => {
    for (const docker of [false, true]) {
      const image = await randomImage({ layers: 2, docker });
      const file = join(tmp, `image-${docker}.tar`);
      await writeTo(await openDockerArchiveSink(dockerArchive(file, 'example/app:v1')), image);
      const manifest = JSON.parse(member(file, 'manifest.json'));
      expect(manifest).toEqual([{
        Config: `blobs/sha256/${image.manifest.config.digest.slice(7)}`,
        RepoTags: ['example/app:v1'],
        Layers: image.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      }]);
      expect(JSON.parse(member(file, 'repositories'))).toEqual({ 'example/app': { v1: image.layers[1]!.digest.slice(7) } });
      expect(JSON.parse(member(file, 'index.json')).manifests[0].annotations).toEqual({
        'io.containerd.image.name': 'docker.io/example/app:v1', 'org.opencontainers.image.ref.name': 'v1',
      });
      const source = await openDockerArchiveSource(dockerArchive(file, 'example/app:v1'));
      const back = await readFrom(source);
      expect(back.descriptor).toEqual(image.descriptor);
      expect(back.rawManifest.equals(image.rawManifest)).toBe(true);
      const dest = join(tmp, `layout-${docker}`);
      await copy(source, await openLayoutSink({ transport: 'oci', path: dest, tag: 'v1' }));
      await source.close();
      const layout = await openLayoutSource({ transport: 'oci', path: dest, tag: 'v1' });
      expect((await readFrom(layout)).descriptor.digest).toBe(image.descriptor.digest);
    }
  });

  it('holds several names; re-using a name moves it; the only image is picked without a name', async () => {
    const file = join(tmp, 'multi.tar');
    const [a, b] = await Promise.all([randomImage({ layers: 1 }), randomImage({ layers: 1 })]);
    await writeTo(await openDockerArchiveSink(dockerArchive(file, 'one:latest')), a);
    const single = await openDockerArchiveSource(dockerArchive(file));
    expect((await single.resolve()).digest).toBe(a.descriptor.digest);
    await single.close();
    await writeTo(await openDockerArchiveSink(dockerArchive(file, 'two:latest')), b);
    await writeTo(await openDockerArchiveSink(dockerArchive(file, 'three')), a);
    await writeTo(await openDockerArchiveSink(dockerArchive(file, 'docker.io/library/one:latest')), b);
    const manifest = JSON.parse(member(file, 'manifest.json'));
    expect(manifest.map((e: { RepoTags: string[] }) => e.RepoTags)).toEqual([['three:latest'], ['two:latest', 'one:latest']]);
    for (const [name, image] of [['one', b], ['two', b], ['three', a]] as const) {
      const s = await openDockerArchiveSource(dockerArchive(file, name));
      expect((await readFrom(s)).descriptor.digest, name).toBe(image.descriptor.digest);
      await s.close();
    }
    const noName = await openDockerArchiveSource(dockerArchive(file)).catch((e: unknown) => e);
    expect(noName).toMatchObject({ code: 'USAGE', message: expect.stringContaining('three:latest, two:latest, one:latest') });
    await expect(openDockerArchiveSource(dockerArchive(file, 'four'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no image named "four:latest"') });
  });

  it('reads archives without an OCI layout by synthesizing a Docker schema2 manifest', async () => {
    const image = await randomImage({ layers: 2, compressed: false });
    const dir = join(tmp, 'legacy');
    mkdirSync(join(dir, 'abc'), { recursive: true });
    writeFileSync(join(dir, 'cfg.json'), image.rawConfig);
    const layers = await Promise.all(image.layers.map(async (l) => Buffer.concat(await (await l.compressed()).toArray())));
    writeFileSync(join(dir, 'one.tar'), layers[0]!);
    writeFileSync(join(dir, 'two.tar'), layers[1]!);
    symlinkSync('../two.tar', join(dir, 'abc', 'layer.tar'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: ['docker.io/library/legacy:1'], Layers: ['one.tar', 'abc/layer.tar'] }]));
    execFileSync('tar', ['-cf', join(tmp, 'legacy.tar'), '-C', dir, '.']);
    const source = await openDockerArchiveSource(dockerArchive(join(tmp, 'legacy.tar'), 'legacy:1'));
    const back = await readFrom(source);
    expect(back.descriptor.mediaType).toBe(MediaType.DockerManifest);
    expect(back.manifest.config).toEqual({ mediaType: MediaType.DockerConfig, digest: image.manifest.config.digest, size: image.manifest.config.size });
    expect(back.manifest.layers.map((l) => [l.mediaType, l.digest])).toEqual(image.layers.map((l) => [MediaType.DockerLayer, l.digest]));
    expect(await source.referrers(back.descriptor.digest)).toEqual([]);
    await source.close();
  });

  it('refuses an index, and abort leaves the archive as it was', async () => {
    const file = join(tmp, 'keep.tar');
    const image = await randomImage({ layers: 1 });
    await writeTo(await openDockerArchiveSink(dockerArchive(file, 'keep:1')), image);
    const before = readFileSync(file);
    const sink = await openDockerArchiveSink(dockerArchive(file, 'keep:2'));
    await writeImage(sink, image, { tag: false });
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [image.descriptor] }));
    await expect(sink.putManifest(index, MediaType.OciIndex, { tag: true })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await sink.abort();
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(tmp)).toEqual(['keep.tar']);
  });

  it('bad input: no manifest.json, a manifest.json naming a missing file', async () => {
    mkdirSync(join(tmp, 'd'));
    writeFileSync(join(tmp, 'd', 'hello'), 'hi');
    execFileSync('tar', ['-cf', join(tmp, 'plain.tar'), '-C', join(tmp, 'd'), '.']);
    await expect(openDockerArchiveSource(dockerArchive(join(tmp, 'plain.tar')))).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('is not a docker-archive') });
    writeFileSync(join(tmp, 'd', 'manifest.json'), JSON.stringify([{ Config: 'nope.json', RepoTags: [], Layers: [] }]));
    execFileSync('tar', ['-cf', join(tmp, 'broken.tar'), '-C', join(tmp, 'd'), '.']);
    await expect(openDockerArchiveSource(dockerArchive(join(tmp, 'broken.tar')))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('"nope.json" is not in the archive') });
    expect(existsSync(join(tmp, 'broken.tar'))).toBe(true);
  });
});
