import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { Digester, InvalidContentError, type Digest, type Layer } from '../../registry/oci/index.js';
import type { CacheMetadata } from '../platform/index.js';

/**
 * Where `cache=true` layers live between builds (buildpack.md "Layer Types", platform.md "Caching"): keyed per
 * buildpack and layer name with the layer's metadata and diffID (the `io.buildpacks.lifecycle.cache.metadata`
 * shape), contents addressed by diffID. Two back ends: a directory (`--cache-dir`) and an image (`--cache-image`).
 */
export interface LayerCache {
  /** Where the cache is, for messages. */
  readonly location: string;
  /**
   * How the exporter packs the layers only this cache holds (cache=true, launch=false): `none` for a cache on
   * this machine that stores tars anyway, where compressing them (npm's or Go's cache, often compressed
   * already) costs CPU in every build that changes them and saves only disk; default `gzip`.
   */
  readonly compression?: 'gzip' | 'none';
  /** The committed metadata; a cache that does not exist yet is empty. */
  read(): Promise<CacheMetadata>;
  /**
   * The layer tar (uncompressed) with that diffID. The stream fails at its end if the bytes do not hash to
   * `diffId`, so a corrupt entry is detected before its contents are trusted. NOT_FOUND if absent.
   */
  open(diffId: Digest): Promise<Readable>;
  /**
   * Replaces the cache with `metadata`, whose every layer `sha` must be a key of `layers` or already in the
   * cache (those are kept without copying or uploading). Atomic: readers see the old or the new cache.
   */
  write(metadata: CacheMetadata, layers: ReadonlyMap<Digest, Layer>, signal?: AbortSignal): Promise<CacheWriteResult>;
  /**
   * Optional, for caches on this machine: moves an intact unpacked copy of the entry `diffId` to `dest` (its
   * parent exists) and returns its `treeState` (a move keeps it); undefined when there is none to move (then
   * unpack `open()`'s tar). A copy found altered since it was kept is discarded.
   */
  takeTree?(diffId: Digest, dest: string): Promise<string | undefined>;
  /**
   * Optional, with takeTree: checks every kept unpacked copy against its recorded state now (synchronously:
   * an lstat per entry), so that the takeTree calls of a restore soon after use these answers instead of
   * walking. The creator calls it while `/bin/detect` runs, when this process has nothing else to do.
   */
  checkTrees?(): void;
  /**
   * Optional: adopts `dir`, which holds exactly what the committed entry `diffId` unpacks to and whose
   * `treeState` is `state`, as that entry's unpacked copy for the next restore (moving it; `dir` is gone
   * afterwards unless this returns false).
   */
  keepTree?(diffId: Digest, dir: string, state: string): Promise<boolean>;
}

export interface CacheWriteResult {
  /** Layers whose bytes were written or uploaded. */
  written: number;
  /** Layers kept from the previous cache generation. */
  reused: number;
}

/** Every diffID a cache's metadata refers to, in metadata order, without repeats. */
export function cachedDiffIds(metadata: CacheMetadata): Digest[] {
  const out = new Set<Digest>();
  for (const bp of metadata.buildpacks) for (const layer of Object.values(bp.layers)) if (layer.sha) out.add(layer.sha as Digest);
  return [...out];
}

/** Options shared by the cache back ends. */
export interface CacheOptions {
  /** Told about entries that are ignored (corrupt metadata, missing blobs). */
  onWarning?: (message: string) => void;
}

/**
 * Passes a layer tar through and fails at its end when it does not hash to `diffId`: cached content is only
 * trusted once it is known to be whole.
 */
export function checkingDiffId(diffId: Digest, what: string): Transform {
  const digester = new Digester();
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      digester.update(chunk);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const got = digester.digest();
      cb(got === diffId ? null : new InvalidContentError(`${what}: content hashes to ${got}, not its diffID ${diffId}`));
    },
  });
}

/** `stream` through `checkingDiffId`, errors of either side surfacing on the result. */
export function withDiffIdCheck(stream: Readable, diffId: Digest, what: string): Readable {
  const check = checkingDiffId(diffId, what);
  stream.on('error', (err) => check.destroy(err));
  return stream.pipe(check);
}
