import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import {
  LadingError, NotFoundError, type BlobPutResult, type ContentSink, type Descriptor, type PutManifestOptions,
} from '../oci/index.js';
import { LOCK_FILE, withFileLock } from '../layout/index.js';
import { extractTar, packDirectory, tempBeside } from './tar-files.js';

export interface ArchiveOptions {
  /** Where archives are unpacked and staged (default the OS temp dir). */
  tmpDir?: string;
}

/** A private temp directory holding the unpacked content of `archive` (empty when `archive` is undefined). */
export async function unpackArchive(archive: string | undefined, options: ArchiveOptions, kind: string): Promise<string> {
  const root = await mkdtemp(join(options.tmpDir ?? tmpdir(), `lading-${kind}-`));
  try {
    if (archive !== undefined) await extractTar(archive, root);
    return root;
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

/** Re-throws `err` with the temp directory's path replaced by the archive's, so messages name what the user gave. */
export function renamed(err: unknown, root: string, archive: string): unknown {
  if (!(err instanceof LadingError) || !err.message.includes(root)) return err;
  const e = new LadingError(err.code, err.message.split(root).join(archive), { cause: err, temporary: err.temporary });
  e.name = err.name;
  return e;
}

/** Identifies one version of a file, to notice another writer replacing it. */
async function versionOf(path: string): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  return st && `${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** Fails unless the directory `path` would be written into exists; returns the version of `path` now. */
export async function checkDestination(path: string): Promise<{ exists: boolean; version: string | undefined }> {
  const parent = dirname(resolve(path));
  if (!(await stat(parent).catch(() => undefined))?.isDirectory()) {
    throw new NotFoundError(`cannot write ${path}: directory ${parent} does not exist`);
  }
  const st = await stat(path).catch(() => undefined);
  if (st?.isDirectory()) throw new LadingError('USAGE', `cannot write archive ${path}: it is a directory`);
  return { exists: st !== undefined, version: await versionOf(path) };
}

export interface StagedArchiveHooks {
  /**
   * Sees each manifest before it is stored and may refuse what the format cannot hold; the callback it
   * returns runs once the manifest was stored.
   */
  onManifest?(bytes: Buffer, mediaType: string, options: PutManifestOptions): Promise<(() => void) | undefined>;
  /** Runs after the staged layout is committed and before it is packed (extra files such as manifest.json). */
  beforePack?(): Promise<void>;
}

/**
 * A sink writing a staged OCI layout (in a private temp dir) that becomes an archive at commit: the tar is
 * written next to the destination and renamed over it, so readers see the old archive or the new one.
 */
export class StagedArchiveSink implements ContentSink {
  #done = false;
  constructor(
    private readonly inner: ContentSink,
    private readonly staging: string,
    private readonly layoutDir: string,
    private readonly dest: string,
    /** The destination's version when staging began (undefined: it did not exist). */
    private readonly seen: string | undefined,
    private readonly hooks: StagedArchiveHooks = {},
  ) {}

  get location(): string {
    return this.inner.location;
  }

  hasBlob(desc: Descriptor): Promise<boolean> {
    return this.inner.hasBlob(desc);
  }

  putBlob(desc: Descriptor, open: () => Promise<Readable>): Promise<BlobPutResult> {
    return this.inner.putBlob(desc, open);
  }

  async putManifest(bytes: Buffer, mediaType: string, options: PutManifestOptions = {}): Promise<Descriptor> {
    const stored = await this.hooks.onManifest?.(bytes, mediaType, options);
    const desc = await this.inner.putManifest(bytes, mediaType, options);
    stored?.();
    return desc;
  }

  async commit(): Promise<void> {
    try {
      await this.inner.commit();
      await this.hooks.beforePack?.();
      await this.#replaceDestination();
    } catch (err) {
      await this.abort();
      throw err;
    }
    this.#done = true;
    await rm(this.staging, { recursive: true, force: true });
  }

  /** Packs beside the destination, then renames over it under a lock — unless another writer replaced it meanwhile. */
  async #replaceDestination(): Promise<void> {
    const tmp = tempBeside(this.dest);
    try {
      await packDirectory(this.layoutDir, tmp, (name) => name === LOCK_FILE || name.startsWith('.lading-tmp-'));
      await withFileLock(`${this.dest}.lock`, async () => {
        if ((await versionOf(this.dest)) !== this.seen) {
          throw new LadingError('IO', `${this.dest} was changed by another writer while this image was staged; nothing was written, try again`, { temporary: true });
        }
        await rename(tmp, this.dest);
      });
    } finally {
      await rm(tmp, { force: true }).catch(() => {});
    }
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.inner.abort().catch(() => {});
    await rm(this.staging, { recursive: true, force: true });
  }
}
