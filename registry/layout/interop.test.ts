import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaType, type Image } from '../oci/index.js';
import { imageFromSource, validateImage, writeImage } from '../image/index.js';
import { copy } from '../copy/index.js';
import { bufferLayer, imageOf, tarOf } from '../../test/support/random-image.js';
import { requireTools } from '../../test/support/tools.js';
import { openLayoutSink, openLayoutSource } from './index.js';

const enabled = requireTools('skopeo', 'umoci');
const skopeo = (...args: string[]): string => execFileSync('skopeo', ['--insecure-policy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** An image whose layers are real tars with files, so unpacking tools have something to show. */
async function imageWithFiles(text: string, options: { docker?: boolean; gzip?: boolean } = {}): Promise<Image> {
  return imageOf([
    bufferLayer(await tarOf({ 'etc/hello.txt': text })),
    bufferLayer(await tarOf({ 'app/run.sh': '#!/bin/sh\necho hi\n' }), options.gzip ?? true),
  ], { docker: options.docker ?? false, labels: { 'org.example.test': text.trim() } });
}

async function readLayout(path: string, tag: string): Promise<Image> {
  const source = await openLayoutSource({ transport: 'oci', path, tag });
  const image = await imageFromSource(source, await source.resolve());
  await validateImage(image);
  return image;
}

describe.skipIf(!enabled)('OCI layout interop with skopeo and umoci', () => {
  let tmp: string;
  let image: Image;
  let other: Image;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-layout-interop-'));
    image = await imageWithFiles('hello from lading\n');
    other = await imageWithFiles('another image\n', { gzip: false });
    for (const [tag, img] of [['v1', image], ['v2', other]] as const) {
      const sink = await openLayoutSink({ transport: 'oci', path: join(tmp, 'ours'), tag });
      await writeImage(sink, img);
      await sink.commit();
    }
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('skopeo inspects each tag of our layout with our digests and bytes', () => {
    for (const [tag, img] of [['v1', image], ['v2', other]] as const) {
      const info = JSON.parse(skopeo('inspect', `oci:${join(tmp, 'ours')}:${tag}`));
      expect(info.Digest).toBe(img.descriptor.digest);
      expect(info.Layers).toEqual(img.layers.map((l) => l.digest));
      expect(info.Labels).toEqual(img.config.config?.Labels);
      expect(Buffer.from(skopeo('inspect', '--raw', `oci:${join(tmp, 'ours')}:${tag}`)).equals(img.rawManifest)).toBe(true);
    }
  });

  it('skopeo copies out of our layout, and we read what it wrote', async () => {
    skopeo('copy', `oci:${join(tmp, 'ours')}:v1`, `oci:${join(tmp, 'theirs')}:copied`);
    const back = await readLayout(join(tmp, 'theirs'), 'copied');
    expect(back.rawManifest.toString()).toBe(image.rawManifest.toString());
    // skopeo gzips uncompressed layers on the way: same content (diffIDs), new blob and manifest digests
    skopeo('copy', `oci:${join(tmp, 'ours')}:v2`, `oci:${join(tmp, 'theirs')}:recompressed`);
    const recompressed = await readLayout(join(tmp, 'theirs'), 'recompressed');
    expect(recompressed.config.rootfs.diff_ids).toEqual(other.config.rootfs.diff_ids);
    expect(recompressed.layers.map((l) => l.mediaType)).toEqual([MediaType.OciLayerGzip, MediaType.OciLayerGzip]);
  });

  it('skopeo and lading add tags to one layout without dropping each other’s', async () => {
    const shared = join(tmp, 'shared');
    const sink = await openLayoutSink({ transport: 'oci', path: shared, tag: 'ours' });
    await writeImage(sink, image);
    await sink.commit();
    skopeo('copy', `oci:${join(tmp, 'ours')}:v2`, `oci:${shared}:theirs`);
    const again = await openLayoutSink({ transport: 'oci', path: shared, tag: 'ours-again' });
    await writeImage(again, other);
    await again.commit();
    expect((await readLayout(shared, 'ours')).descriptor.digest).toBe(image.descriptor.digest);
    expect((await readLayout(shared, 'theirs')).config.rootfs.diff_ids).toEqual(other.config.rootfs.diff_ids);
    expect((await readLayout(shared, 'ours-again')).descriptor.digest).toBe(other.descriptor.digest);
    expect(JSON.parse(skopeo('inspect', `oci:${shared}:ours`)).Digest).toBe(image.descriptor.digest);
  });

  it('reads a Docker schema2 image skopeo wrote (--format v2s2) and copies it byte for byte', async () => {
    // (skopeo 1.9 writes this layout but cannot read it back: its oci: reader skips Docker media types)
    skopeo('copy', '--format', 'v2s2', `oci:${join(tmp, 'ours')}:v1`, `oci:${join(tmp, 'v2s2')}:d`);
    const docker = await readLayout(join(tmp, 'v2s2'), 'd');
    expect(docker.descriptor.mediaType).toBe(MediaType.DockerManifest);
    expect(docker.config.rootfs.diff_ids).toEqual(image.config.rootfs.diff_ids);
    const source = await openLayoutSource({ transport: 'oci', path: join(tmp, 'v2s2'), tag: 'd' });
    await copy(source, await openLayoutSink({ transport: 'oci', path: join(tmp, 'v2s2-copy'), tag: 'd' }));
    expect((await readLayout(join(tmp, 'v2s2-copy'), 'd')).rawManifest.equals(docker.rawManifest)).toBe(true);
  });

  it('umoci unpacks our layout into a bundle with the image’s files', () => {
    const bundle = join(tmp, 'bundle');
    const rootless = process.getuid?.() === 0 ? [] : ['--rootless'];
    execFileSync('umoci', ['unpack', ...rootless, '--image', `${join(tmp, 'ours')}:v1`, bundle], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(readFileSync(join(bundle, 'rootfs', 'etc', 'hello.txt'), 'utf8')).toBe('hello from lading\n');
    expect(readFileSync(join(bundle, 'rootfs', 'app', 'run.sh'), 'utf8')).toContain('echo hi');
    expect(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).process.env).toContain('PATH=/usr/local/bin:/usr/bin:/bin');
  });
});
