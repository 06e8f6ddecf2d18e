import { boundedMap } from '../image/index.js';
import { Digester, MediaType, isLadingError, type Digest } from '../oci/index.js';
import { keepBlob, keptBlob } from './blob-cache.js';
import { deflaterFor } from './deflate-engine.js';
import { BlobSpool, FileLayer } from './file-layer.js';
import { GzipBlockWriter } from './gzip-blocks.js';
import { planLayer } from './plan.js';
import { LayerError, resolveSettings, type LayerSpec, type LayerWriteOptions } from './spec.js';
import { packEntries } from './tar-writer.js';

/**
 * Builds one reproducible layer (design.md §4) and spools its blob to a temp file. The tar is hashed
 * (diffID) and compressed in the same pass; the compressed bytes are hashed (digest) as they are written.
 * Call `dispose()` on the result when done with it.
 */
export async function createLayer(spec: LayerSpec, options: LayerWriteOptions = {}): Promise<FileLayer> {
  const settings = resolveSettings(options);
  const plan = await planLayer(spec, settings);
  const gzip = settings.compression === 'gzip';
  // A large layer seen before: its tar is hashed (no compression) and the kept blob used.
  const cache = gzip ? options.blobCache : undefined;
  let hashed: Digest | undefined;
  if (cache && plan.reduce((n, e) => n + e.size, 0) >= (cache.minSize ?? 16 << 20)) {
    const diff = new Digester();
    for await (const chunk of packEntries(plan, settings.mtime) as AsyncIterable<Buffer>) diff.update(chunk);
    hashed = diff.digest();
    const kept = await keptBlob(cache.dir, hashed);
    if (kept) {
      return new FileLayer({
        mediaType: MediaType.OciLayerGzip, digest: kept.digest, size: kept.size, diffId: hashed, path: kept.path,
        uncompressedSize: diff.size, gzip: true, annotations: spec.annotations, shared: true,
      });
    }
  }
  const deflater = gzip ? await deflaterFor(settings.deflate) : undefined;
  const spool = await BlobSpool.open(settings.tempDir, gzip ? '.tar.gz' : '.tar');
  try {
    const diff = new Digester();
    const emit = (chunk: Buffer): Promise<void> => spool.write(chunk);
    const out = deflater ? new GzipBlockWriter(deflater, emit) : { write: emit, end: async () => undefined };
    for await (const chunk of packEntries(plan, settings.mtime) as AsyncIterable<Buffer>) {
      diff.update(chunk);
      await out.write(chunk);
    }
    await out.end();
    const blob = await spool.close();
    const diffId = diff.digest();
    // Kept only when both passes saw the same tar (nothing changed the files in between).
    if (cache && hashed === diffId) await keepBlob(cache.dir, diffId, spool.path, blob);
    return new FileLayer({
      mediaType: gzip ? MediaType.OciLayerGzip : MediaType.OciLayer,
      digest: blob.digest,
      size: blob.size,
      diffId,
      path: spool.path,
      uncompressedSize: diff.size,
      gzip,
      annotations: spec.annotations,
    });
  } catch (err) {
    await spool.discard();
    if (isLadingError(err)) throw err;
    throw new LayerError('INTERNAL', `writing layer blob ${spool.path} failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/**
 * The layer of the tar `diffId` from the blob cache `dir` (its kept compressed blob, verified), without
 * reading the tree: for a caller that knows the diffID of a tree it did not pack (the exporter's layer-digest
 * memo). Undefined when the cache holds no such blob.
 */
export async function keptLayer(dir: string, diffId: Digest, uncompressedSize: number, annotations?: Record<string, string>): Promise<FileLayer | undefined> {
  const kept = await keptBlob(dir, diffId);
  if (!kept) return undefined;
  return new FileLayer({
    mediaType: MediaType.OciLayerGzip, digest: kept.digest, size: kept.size, diffId, path: kept.path,
    uncompressedSize, gzip: true, ...(annotations ? { annotations } : {}), shared: true,
  });
}

/**
 * Builds several layers, `options.concurrency` (default 2) at a time; results in input order. If any
 * fails, the layers already built are disposed before the error is thrown.
 */
export async function createLayers(specs: readonly LayerSpec[], options: LayerWriteOptions = {}): Promise<FileLayer[]> {
  const built: FileLayer[] = [];
  try {
    return await boundedMap(specs, options.concurrency ?? 2, async (spec) => {
      const layer = await createLayer(spec, options);
      built.push(layer);
      return layer;
    });
  } catch (err) {
    await Promise.all(built.map((l) => l.dispose()));
    throw err;
  }
}
