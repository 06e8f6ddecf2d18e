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

/** Writes an image to a sink: layer blobs (bounded concurrency), config, then the manifest. Does not commit. */
export async function writeImage(sink: ContentSink, image: Image, options: WriteImageOptions = {}): Promise<WriteImageResult> {
  const layers = await boundedMap(image.layers, options.concurrency ?? 4, (layer) =>
    sink.putBlob({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, () => layer.compressed()),
  );
  const config = await sink.putBlob(image.manifest.config, async () => Readable.from([image.rawConfig]));
  const descriptor = await sink.putManifest(image.rawManifest, image.descriptor.mediaType, { tag: options.tag ?? true });
  const uploaded = [...layers, config].filter((r) => r === 'uploaded').length;
  return { descriptor, layers, uploaded };
}
