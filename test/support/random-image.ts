import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { digestOf, MediaType, serializeManifest, stableJsonBytes, type ConfigFile, type Image, type Layer } from '../../registry/oci/index.js';
import { makeImage } from '../../registry/image/index.js';

/** A tar holding the given files (path → content), deterministic apart from the content. */
export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const [name, content] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    pack.entry({ name, size: buf.byteLength, mode: 0o644, mtime: new Date(315532801000) }, buf);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** An in-memory layer from tar bytes (gzip unless `compressed` is false). */
export function bufferLayer(tarBytes: Buffer, compressed = true): Layer {
  const blob = compressed ? gzipSync(tarBytes, { level: 6 }) : tarBytes;
  return {
    mediaType: compressed ? MediaType.OciLayerGzip : MediaType.OciLayer,
    digest: digestOf(blob),
    size: blob.byteLength,
    diffId: digestOf(tarBytes),
    compressed: async () => Readable.from([blob]),
    uncompressed: async () => Readable.from([tarBytes]),
  };
}

export interface RandomImageOptions {
  layers?: number;
  /** Bytes of random content per layer. */
  layerSize?: number;
  compressed?: boolean;
  /** Write a Docker schema2 manifest instead of OCI. */
  docker?: boolean;
  labels?: Record<string, string>;
  /** Extra files in the first layer (e.g. a program to run). */
  files?: Record<string, string | Buffer>;
}

/** An image with random layer content (ggcr's random.Image): every call gives a new, valid image. */
export async function randomImage(options: RandomImageOptions = {}): Promise<Image> {
  const n = options.layers ?? 2;
  const layers: Layer[] = [];
  for (let i = 0; i < n; i++) {
    const files: Record<string, string | Buffer> = { [`random/${i}.bin`]: randomBytes(options.layerSize ?? 1024) };
    if (i === 0 && options.files) Object.assign(files, options.files);
    layers.push(bufferLayer(await tarOf(files), options.compressed ?? true));
  }
  return imageOf(layers, options);
}

/** Assembles config and manifest around layers. */
export function imageOf(layers: Layer[], options: Pick<RandomImageOptions, 'docker' | 'labels'> = {}): Image {
  const config: ConfigFile = {
    created: '1980-01-01T00:00:01Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Labels: options.labels ?? {} },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '1980-01-01T00:00:01Z', created_by: `random layer ${i}` })),
  };
  const rawConfig = stableJsonBytes(config);
  const docker = options.docker ?? false;
  const layerType = (l: Layer): string =>
    docker ? (l.mediaType === MediaType.OciLayerGzip ? MediaType.DockerLayerGzip : MediaType.DockerLayer) : l.mediaType;
  const fixed: Layer[] = layers.map((l) => ({ ...l, mediaType: layerType(l), compressed: l.compressed, uncompressed: l.uncompressed }));
  const manifest = {
    schemaVersion: 2 as const,
    mediaType: docker ? MediaType.DockerManifest : MediaType.OciManifest,
    config: { mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig, digest: digestOf(rawConfig), size: rawConfig.byteLength },
    layers: fixed.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const { bytes, digest } = serializeManifest(manifest);
  return makeImage({ mediaType: manifest.mediaType, digest, size: bytes.byteLength }, bytes, rawConfig, fixed);
}
