import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaType, type ContentSource, type Image } from '../oci/index.js';
import { imageFromSource, validateImage, writeImage } from '../image/index.js';
import { parseRegistryReference } from '../reference.js';
import { openLayoutSink, openLayoutSource } from '../layout/index.js';
import { randomImage } from '../../test/support/random-image.js';
import { requireTools } from '../../test/support/tools.js';
import { openDockerArchiveSink, openDockerArchiveSource, openOciArchiveSink, openOciArchiveSource } from './index.js';

const enabled = requireTools('skopeo', 'umoci');
const skopeo = (...args: string[]): string => execFileSync('skopeo', ['--insecure-policy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const dockerArchive = (path: string, name?: string) => ({ transport: 'docker-archive' as const, path, ...(name ? { name: parseRegistryReference(name) } : {}) });

async function readBack(source: ContentSource): Promise<Image> {
  const image = await imageFromSource(source, await source.resolve());
  await validateImage(image);
  await source.close();
  return image;
}

describe.skipIf(!enabled)('archive interop with skopeo and umoci', () => {
  let tmp: string;
  let image: Image;
  let docker: Image;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-archive-interop-'));
    image = await randomImage({ layers: 2, files: { 'etc/hello.txt': 'hello from an archive\n' } });
    docker = await randomImage({ layers: 2, docker: true, files: { 'etc/hello.txt': 'hello from schema2\n' } });
    for (const [tag, img] of [['oci', image], ['docker', docker]] as const) {
      const sink = await openLayoutSink({ transport: 'oci', path: join(tmp, 'origin'), tag });
      await writeImage(sink, img);
      await sink.commit();
    }
    const oa = await openOciArchiveSink({ transport: 'oci-archive', path: join(tmp, 'ours.oci.tar'), tag: 'v1' });
    await writeImage(oa, image);
    await oa.commit();
    for (const [file, img] of [['ours-oci.docker.tar', image], ['ours-v2s2.docker.tar', docker]] as const) {
      const sink = await openDockerArchiveSink(dockerArchive(join(tmp, file), 'example/app:v1'));
      await writeImage(sink, img);
      await sink.commit();
    }
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('skopeo reads our oci-archive with our digest, and copies it out unchanged', async () => {
    expect(JSON.parse(skopeo('inspect', `oci-archive:${join(tmp, 'ours.oci.tar')}:v1`)).Digest).toBe(image.descriptor.digest);
    skopeo('copy', `oci-archive:${join(tmp, 'ours.oci.tar')}:v1`, `oci:${join(tmp, 'from-oa')}:x`);
    const back = await readBack(await openLayoutSource({ transport: 'oci', path: join(tmp, 'from-oa'), tag: 'x' }));
    expect(back.rawManifest.equals(image.rawManifest)).toBe(true);
  });

  it('skopeo reads our docker-archives (gzip layers under blobs/, OCI and schema2 manifests); umoci unpacks the result', async () => {
    for (const [file, img] of [['ours-oci.docker.tar', image], ['ours-v2s2.docker.tar', docker]] as const) {
      const ref = `docker-archive:${join(tmp, file)}:example/app:v1`;
      const info = JSON.parse(skopeo('inspect', ref));
      // skopeo's docker-archive reader serves layers decompressed, addressed by diffID
      expect(info.Layers, file).toEqual(img.config.rootfs.diff_ids);
      const dest = join(tmp, `from-${file}`);
      skopeo('copy', ref, `oci:${dest}:x`);
      const back = await readBack(await openLayoutSource({ transport: 'oci', path: dest, tag: 'x' }));
      expect(back.config.rootfs.diff_ids).toEqual(img.config.rootfs.diff_ids);
      const bundle = join(tmp, `bundle-${file}`);
      execFileSync('umoci', ['unpack', ...(process.getuid?.() === 0 ? [] : ['--rootless']), '--image', `${dest}:x`, bundle], { stdio: ['ignore', 'pipe', 'pipe'] });
      expect(readFileSync(join(bundle, 'rootfs', 'etc', 'hello.txt'), 'utf8')).toMatch(/^hello from /);
    }
  });

  it('reads the oci-archive skopeo writes, byte for byte', async () => {
    skopeo('copy', `oci:${join(tmp, 'origin')}:oci`, `oci-archive:${join(tmp, 'skopeo.oci.tar')}:s1`);
    const back = await readBack(await openOciArchiveSource({ transport: 'oci-archive', path: join(tmp, 'skopeo.oci.tar'), tag: 's1' }));
    expect(back.rawManifest.equals(image.rawManifest)).toBe(true);
  });

  it('reads docker-archives skopeo writes (uncompressed layers, schema2), and adds to them so skopeo reads both', async () => {
    const file = join(tmp, 'skopeo.docker.tar');
    skopeo('copy', '--format', 'v2s2', `oci:${join(tmp, 'origin')}:oci`, `docker-archive:${file}:skopeo/app:v1`);
    const back = await readBack(await openDockerArchiveSource(dockerArchive(file, 'skopeo/app:v1')));
    expect(back.descriptor.mediaType).toBe(MediaType.DockerManifest);
    expect(back.config.rootfs.diff_ids).toEqual(image.config.rootfs.diff_ids);
    expect(back.layers.map((l) => [l.mediaType, l.digest])).toEqual(image.config.rootfs.diff_ids.map((d) => [MediaType.DockerLayer, d]));
    const onlyOne = await openDockerArchiveSource(dockerArchive(file));
    expect((await onlyOne.resolve()).digest).toBe(back.descriptor.digest);
    await onlyOne.close();
    // lading adds an image to skopeo's archive; both stay readable by skopeo and by lading
    const sink = await openDockerArchiveSink(dockerArchive(file, 'lading/app:v2'));
    await writeImage(sink, docker);
    await sink.commit();
    expect(JSON.parse(skopeo('inspect', `docker-archive:${file}:skopeo/app:v1`)).Layers).toEqual(image.config.rootfs.diff_ids);
    expect(JSON.parse(skopeo('inspect', `docker-archive:${file}:lading/app:v2`)).Layers).toEqual(docker.config.rootfs.diff_ids);
    expect((await readBack(await openDockerArchiveSource(dockerArchive(file, 'lading/app:v2')))).descriptor.digest).toBe(docker.descriptor.digest);
    expect((await readBack(await openDockerArchiveSource(dockerArchive(file, 'skopeo/app:v1')))).descriptor.digest).toBe(back.descriptor.digest);
  });

  it('skopeo docker-archive → lading layout → lading docker-archive → skopeo keeps the content', async () => {
    const file = join(tmp, 'skopeo2.docker.tar');
    skopeo('copy', `oci:${join(tmp, 'origin')}:oci`, `docker-archive:${file}:x/y:z`);
    const source = await openDockerArchiveSource(dockerArchive(file, 'x/y:z'));
    const img = await imageFromSource(source, await source.resolve());
    const sink = await openLayoutSink({ transport: 'oci', path: join(tmp, 'relaid'), tag: 'z' });
    await writeImage(sink, img);
    await sink.commit();
    await source.close();
    // (skopeo 1.9's oci: reader skips Docker media types in index.json, so it cannot read this layout itself)
    const relaid = await readBack(await openLayoutSource({ transport: 'oci', path: join(tmp, 'relaid'), tag: 'z' }));
    expect(relaid.rawManifest.equals(img.rawManifest)).toBe(true);
    const out = await openDockerArchiveSink(dockerArchive(join(tmp, 'again.docker.tar'), 'x/y:z'));
    await writeImage(out, relaid);
    await out.commit();
    expect(JSON.parse(skopeo('inspect', `docker-archive:${join(tmp, 'again.docker.tar')}:x/y:z`)).Layers).toEqual(image.config.rootfs.diff_ids);
  });
});
