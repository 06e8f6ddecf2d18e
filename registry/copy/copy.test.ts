import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { copy } from './copy.js';
import { MemoryStore } from '../../test/support/memory-store.js';
import { randomImage } from '../../test/support/random-image.js';
import { writeImage } from '../image/index.js';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, MediaType, digestOf, serializeManifest, type Image, type ImageIndex } from '../oci/index.js';

async function storeWith(image: Image, tag = 'src'): Promise<MemoryStore> {
  const store = new MemoryStore();
  const sink = store.sink(tag);
  await writeImage(sink, image);
  await sink.commit();
  return store;
}

async function putArtifact(store: MemoryStore, subject: Image | { descriptor: { mediaType: string; digest: string; size: number } }, payload: string, artifactType: string) {
  const blob = Buffer.from(payload);
  const sink = store.sink('unused');
  await sink.putBlob({ mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as never, size: 2 }, async () => Readable.from([EMPTY_JSON]));
  await sink.putBlob({ mediaType: artifactType, digest: digestOf(blob), size: blob.byteLength }, async () => Readable.from([blob]));
  const { bytes } = serializeManifest({
    schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType,
    config: { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as never, size: 2 },
    layers: [{ mediaType: artifactType, digest: digestOf(blob), size: blob.byteLength }],
    subject: { mediaType: subject.descriptor.mediaType, digest: subject.descriptor.digest as never, size: subject.descriptor.size },
  });
  return sink.putManifest(bytes, MediaType.OciManifest);
}

describe('copy', () => {
  it('copies an image byte for byte and commits the tag', async () => {
    const image = await randomImage({ layers: 3 });
    const src = await storeWith(image);
    const dst = new MemoryStore();
    const sink = dst.sink('dst');
    const r = await copy(src.source('src'), sink);
    expect(r.descriptor.digest).toBe(image.descriptor.digest);
    expect(r.uploaded).toBe(4);
    expect(dst.tags.get('dst')).toBe(image.descriptor.digest);
    expect(dst.manifests.get(image.descriptor.digest)!.bytes.equals(image.rawManifest)).toBe(true);
    const again = await copy(src.source('src'), dst.sink('dst'));
    expect(again.uploaded).toBe(0);
  });

  it('copies an index with every platform only with all, else the host platform image', async () => {
    const amd = await randomImage({ layers: 1 });
    const arm = await randomImage({ layers: 1 });
    const src = new MemoryStore();
    const sink = src.sink('multi');
    await writeImage(sink, amd, { tag: false });
    await writeImage(sink, arm, { tag: false });
    const index: ImageIndex = {
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [
        { ...amd.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    };
    const { bytes, digest } = serializeManifest(index);
    await sink.putManifest(bytes, MediaType.OciIndex, { tag: true });
    await sink.commit();

    const all = new MemoryStore();
    const r = await copy(src.source('multi'), all.sink('x'), { all: true });
    expect(r.descriptor.digest).toBe(digest);
    expect(r.manifests).toBe(3);
    expect(all.manifests.has(arm.descriptor.digest)).toBe(true);

    const one = new MemoryStore();
    const r1 = await copy(src.source('multi'), one.sink('x'), { platform: { os: 'linux', architecture: 'arm64' } });
    expect(r1.descriptor.digest).toBe(arm.descriptor.digest);
    expect(one.manifests.has(amd.descriptor.digest)).toBe(false);

    await expect(copy(src.source('multi'), new MemoryStore().sink('x'), { platform: { os: 'linux', architecture: 's390x' } }))
      .rejects.toThrow(/no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\)/);
  });

  it('carries referrers, and referrers of referrers, only with the referrers option', async () => {
    const image = await randomImage({ layers: 1 });
    const src = await storeWith(image);
    const sbom = await putArtifact(src, image, '{"bomFormat":"CycloneDX"}', MediaType.CycloneDx);
    const sig = await putArtifact(src, { descriptor: sbom }, 'signature', MediaType.SigstoreBundle);

    const without = new MemoryStore();
    await copy(src.source('src'), without.sink('x'));
    expect(without.manifests.has(sbom.digest)).toBe(false);

    const withRefs = new MemoryStore();
    const r = await copy(src.source('src'), withRefs.sink('x'), { referrers: true });
    expect(r.referrers).toBe(2);
    expect(withRefs.manifests.has(sbom.digest)).toBe(true);
    expect(withRefs.manifests.has(sig.digest)).toBe(true);
    expect(withRefs.tags.get('x')).toBe(image.descriptor.digest);
  });

  it('aborts without tagging when a blob does not match its digest', async () => {
    const image = await randomImage({ layers: 2 });
    const src = await storeWith(image);
    const layer = image.layers[1]!;
    src.blobs.set(layer.digest, Buffer.from('corrupted bytes'));
    const dst = new MemoryStore();
    await expect(copy(src.source('src'), dst.sink('dst'))).rejects.toThrow(/does not match|declares/);
    expect(dst.tags.size).toBe(0);
    expect(dst.manifests.size).toBe(0);
  });
});
