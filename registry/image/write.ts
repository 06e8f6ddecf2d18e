import type { BlobPutResult, ContentSink, Descriptor, Image } from '../oci/index.js';
import { Readable } from 'node:stream';
import { boundedMap } from './bounded-map.js';

export interface WriteImageOptions {
  /** Tag the manifest with the sink's tag (default true). */
  tag?: boolean;
  /** Blobs uploaded in parallel (default 4). */
  concurrency?: number;
}

export interface WriteImageResult {
  descriptor: Descriptor;
  /** Per layer, in manifest order: what the sink did with the blob. */
  layers: BlobPutResult[];
  /** Blobs actually sent (layers and config). */
  uploaded: number;
}

/**
 * Writes an image to a sink: layer and config blobs (bounded concurrency; the config is small and needs no
 * layer first, so it goes up with them), then the manifest. Does not commit.
 */
export async function writeImage(sink: ContentSink, image: Image, options: WriteImageOptions = {}): Promise<WriteImageResult> {
  const blobs: { desc: Descriptor; open: () => Promise<Readable> }[] = [
    ...image.layers.map((layer) => ({ desc: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, open: () => layer.compressed() })),
    { desc: image.manifest.config, open: async () => Readable.from([image.rawConfig]) },
  ];
  const results = await boundedMap(blobs, options.concurrency ?? 4, (b) => sink.putBlob(b.desc, b.open));
  const layers = results.slice(0, -1);
  const descriptor = await sink.putManifest(image.rawManifest, image.descriptor.mediaType, { tag: options.tag ?? true });
  const uploaded = results.filter((r) => r === 'uploaded').length;
  return { descriptor, layers, uploaded };
}
