import { boundedMap } from '../image/index.js';
import { Digester, MediaType, isLadingError } from '../oci/index.js';
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
    return new FileLayer({
      mediaType: gzip ? MediaType.OciLayerGzip : MediaType.OciLayer,
      digest: blob.digest,
      size: blob.size,
      diffId: diff.digest(),
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
