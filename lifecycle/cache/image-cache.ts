import type { Readable } from 'node:stream';
import {
  LadingError, NotFoundError, isLadingError,
  type ContentSink, type ContentSource, type Digest, type Image, type Layer, type Platform,
} from '../../registry/oci/index.js';
import { imageFromSource, writeImage } from '../../registry/image/index.js';
import { appendLayers, emptyImage, withConfig } from '../../registry/mutate/index.js';
import { CACHE_METADATA_LABEL, parseCacheMetadata, serializeCacheMetadata, type CacheMetadata } from '../platform/index.js';
import { cachedDiffIds, withDiffIdCheck, type CacheOptions, type CacheWriteResult, type LayerCache } from './cache.js';

export interface ImageCacheOptions extends CacheOptions {
  /** Platform recorded in the cache image's config (default linux/amd64); the cache is never run. */
  platform?: Platform;
}

/**
 * A cache kept as an image (`--cache-image`, in a registry or a layout): one layer per cached layer and the
 * `io.buildpacks.lifecycle.cache.metadata` label mapping buildpack/layer to diffID and metadata, so throwaway CI
 * runners share a cache. Layers the previous cache image already has are written as references to the same
 * blobs: the sink finds them present and uploads nothing. The new cache image is tagged only on commit.
 */
export class ImageCache implements LayerCache {
  readonly location: string;
  #image: Promise<Image | undefined> | undefined;

  /** `source` reads the current cache image (absent = no cache yet); `openSink` writes the next one. */
  constructor(
    private readonly source: ContentSource | undefined,
    private readonly openSink: () => Promise<ContentSink>,
    private readonly options: ImageCacheOptions = {},
  ) {
    this.location = `cache image ${source?.location ?? '(new)'}`;
  }

  private image(): Promise<Image | undefined> {
    this.#image ??= this.load();
    return this.#image;
  }

  private async load(): Promise<Image | undefined> {
    if (!this.source) return undefined;
    try {
      return await imageFromSource(this.source, await this.source.resolve());
    } catch (err) {
      if (isLadingError(err) && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  async read(): Promise<CacheMetadata> {
    const image = await this.image();
    const label = image?.config.config?.Labels?.[CACHE_METADATA_LABEL];
    if (!image || label === undefined) return { buildpacks: [] };
    try {
      const metadata = parseCacheMetadata(label);
      for (const bp of metadata.buildpacks) {
        for (const [name, layer] of Object.entries(bp.layers)) {
          if (!image.layerByDiffId(layer.sha as Digest)) {
            this.options.onWarning?.(`${this.location}: layer ${bp.key}:${name} names ${layer.sha}, which the image lacks; ignored`);
            delete bp.layers[name];
          }
        }
      }
      return metadata;
    } catch (err) {
      this.options.onWarning?.(`${this.location}: ignoring a corrupt cache (${(err as Error).message})`);
      return { buildpacks: [] };
    }
  }

  async open(diffId: Digest): Promise<Readable> {
    const layer = (await this.image())?.layerByDiffId(diffId);
    if (!layer) throw new NotFoundError(`${this.location}: no cached layer ${diffId}`);
    return withDiffIdCheck(await layer.uncompressed(), diffId, `${this.location}: cached layer ${diffId}`);
  }

  async write(metadata: CacheMetadata, layers: ReadonlyMap<Digest, Layer>, signal?: AbortSignal): Promise<CacheWriteResult> {
    const previous = await this.image();
    const chosen: Layer[] = [];
    let reused = 0;
    for (const diffId of cachedDiffIds(metadata)) {
      const old = previous?.layerByDiffId(diffId);
      const layer = old ?? layers.get(diffId);
      if (!layer) throw new LadingError('EXPORT', `${this.location}: no contents for cached layer ${diffId}`);
      if (old) reused++;
      chosen.push(layer);
    }
    const base = emptyImage(this.options.platform ?? { os: 'linux', architecture: 'amd64' });
    const image = withConfig(appendLayers(base, ...chosen.map((layer) => ({ layer, history: { created_by: 'Buildpacks Cache Layer' } }))), {
      labels: { [CACHE_METADATA_LABEL]: serializeCacheMetadata(metadata) },
    });
    const sink = await this.openSink();
    try {
      signal?.throwIfAborted();
      const written = await writeImage(sink, image, { tag: true });
      signal?.throwIfAborted();
      await sink.commit();
      return { written: written.layers.filter((r) => r === 'uploaded').length, reused };
    } catch (err) {
      await sink.abort().catch(() => undefined);
      if (isLadingError(err)) throw err;
      if (signal?.aborted) throw new LadingError('INTERRUPTED', `${sink.location}: cache write cancelled`, { cause: err });
      throw new LadingError('EXPORT', `${sink.location}: writing the cache image failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
