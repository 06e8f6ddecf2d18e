import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keepFile } from '../keep-file.js';
import type { Digest } from '../oci/index.js';

/**
 * Where this machine last pushed (or found) a blob on a registry: a later push of the same blob to another
 * repository of that registry asks for a cross-repository mount instead of uploading it. A dozen apps on one
 * Node.js runtime push its 47 MiB layer once. A wrong or stale answer costs nothing: the registry declines
 * the mount (or the credentials lack pull on that repository) and the blob is uploaded as before.
 */
export interface BlobLocations {
  /** The repository of `registry` that had `digest`, if known. */
  get(registry: string, digest: Digest): Promise<string | undefined>;
  put(registry: string, digest: Digest, repository: string): Promise<void>;
}

/** Blobs smaller than this are not worth a remembered location (a mount saves little, the record costs a file). */
export const BLOB_LOCATION_MIN_SIZE = 1 << 20;

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

/** BlobLocations as one small file per registry and digest under `dir` (LADING_HOME/cache/blob-locations). */
export function fileBlobLocations(dir: string): BlobLocations {
  const file = (registry: string, digest: Digest) => join(dir, safe(registry), safe(digest));
  return {
    async get(registry, digest) {
      const text = await readFile(file(registry, digest), 'utf8').catch(() => undefined);
      const repo = text?.trim();
      return repo && /^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/.test(repo) ? repo : undefined;
    },
    async put(registry, digest, repository) {
      await keepFile(file(registry, digest), `${repository}\n`);
    },
  };
}
