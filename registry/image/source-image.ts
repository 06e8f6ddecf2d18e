import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import {
  InvalidContentError, UnsupportedError, isGzipLayer, isUncompressedLayer, isZstdLayer, parseConfig, parseManifest,
  type ContentSource, type Descriptor, type Digest, type Image, type Index, type Layer,
} from '../oci/index.js';
import { readAll, verifiedStream } from './verify.js';

/** Configs larger than this are refused rather than buffered. */
const MAX_CONFIG_BYTES = 8 << 20;

/** A layer whose bytes come from a ContentSource, verified as they stream. */
export class SourceLayer implements Layer {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  constructor(
    private readonly source: ContentSource,
    private readonly desc: Descriptor,
    readonly diffId: Digest,
  ) {
    this.mediaType = desc.mediaType;
    this.digest = desc.digest;
    this.size = desc.size;
    if (desc.annotations) this.annotations = desc.annotations;
  }
  async compressed(): Promise<Readable> {
    return verifiedStream(await this.source.blob(this.desc), this.desc, `${this.source.location} blob ${this.digest}`);
  }
  async uncompressed(): Promise<Readable> {
    return decompress(await this.compressed(), this.mediaType, `${this.source.location} layer ${this.digest}`);
  }
}

/** Decompresses a layer stream by media type; errors of the input surface on the output. */
export function decompress(stream: Readable, mediaType: string, what: string): Readable {
  if (isGzipLayer(mediaType)) {
    // 1 MiB output chunks: with the 16 KiB default, stream overhead doubles the cost of inflating a large layer.
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    stream.on('error', (err) => gunzip.destroy(err));
    gunzip.on('error', () => stream.destroy());
    return stream.pipe(gunzip);
  }
  if (isZstdLayer(mediaType)) throw new UnsupportedError(`${what}: zstd layers cannot be decompressed on this Node.js version`);
  if (isUncompressedLayer(mediaType)) return stream;
  return stream;
}

/** Reads the manifest and config `desc` names and returns the image, layers lazily. `desc` must be an image manifest. */
export async function imageFromSource(source: ContentSource, desc: Descriptor): Promise<Image> {
  const fetched = await source.manifest(desc.digest, desc.mediaType);
  const what = `${source.location} manifest ${desc.digest}`;
  const parsed = parseManifest(fetched.bytes, what, fetched.mediaType);
  if (parsed.kind !== 'manifest') throw new InvalidContentError(`${what}: is an image index, not an image (choose a platform)`);
  const manifest = parsed.manifest;
  const configDesc = manifest.config;
  if (configDesc.size > MAX_CONFIG_BYTES) throw new InvalidContentError(`${what}: config of ${configDesc.size} bytes is too large`);
  const rawConfig = await readAll(
    verifiedStream(await source.blob(configDesc), configDesc, `${source.location} config ${configDesc.digest}`),
  );
  const config = parseConfig(rawConfig, `${source.location} config ${configDesc.digest}`);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new InvalidContentError(
      `${what}: manifest lists ${manifest.layers.length} layers but the config lists ${diffIds.length} diff_ids`,
    );
  }
  const layers = manifest.layers.map((l, i) => new SourceLayer(source, l, diffIds[i] as Digest));
  return makeImage({ mediaType: parsed.mediaType, digest: fetched.digest, size: fetched.bytes.byteLength }, fetched.bytes, rawConfig, layers);
}

export async function indexFromSource(source: ContentSource, desc: Descriptor): Promise<Index> {
  const fetched = await source.manifest(desc.digest, desc.mediaType);
  const what = `${source.location} manifest ${desc.digest}`;
  const parsed = parseManifest(fetched.bytes, what, fetched.mediaType);
  if (parsed.kind !== 'index') throw new InvalidContentError(`${what}: is an image manifest, not an index`);
  return {
    descriptor: { mediaType: parsed.mediaType, digest: fetched.digest, size: fetched.bytes.byteLength },
    rawManifest: fetched.bytes,
    manifest: parsed.manifest,
  };
}

/** Assembles an Image from parts already in hand (used by sources and by mutate). */
export function makeImage(descriptor: Descriptor, rawManifest: Buffer, rawConfig: Buffer, layers: readonly Layer[]): Image {
  const parsed = parseManifest(rawManifest, `manifest ${descriptor.digest}`, descriptor.mediaType);
  if (parsed.kind !== 'manifest') throw new InvalidContentError(`manifest ${descriptor.digest}: is an index`);
  const config = parseConfig(rawConfig, `config of ${descriptor.digest}`);
  const byDigest = new Map(layers.map((l) => [l.digest, l] as const));
  const byDiffId = new Map(layers.map((l) => [l.diffId, l] as const));
  return {
    descriptor: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size },
    rawManifest,
    manifest: parsed.manifest,
    rawConfig,
    config,
    layers,
    layerByDigest: (d) => byDigest.get(d),
    layerByDiffId: (d) => byDiffId.get(d),
  };
}
