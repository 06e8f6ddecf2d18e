import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  LadingError, NotFoundError, children, digestOf, hexOf, parseManifest, referrerArtifactType, stableJsonBytes,
  type BlobPutResult, type ContentSink, type Descriptor, type Digest, type ImageIndex,
} from '../oci/index.js';
import { verifying } from '../image/index.js';
import type { LayoutReference } from '../reference.js';
import { withEntry, withReferrer, refNameEntry, type EntryName } from './index-entries.js';
import {
  BLOBS_DIR, INDEX_FILE, OCI_LAYOUT_BYTES, OCI_LAYOUT_FILE, blobPath, checkLayoutDir, ioError, isNotFound,
  readLayoutIndex, writeFileAtomic,
} from './layout-dir.js';
import { withFileLock, type FileLockOptions } from './lock.js';

export interface LayoutSinkOptions extends FileLockOptions {
  /** Names the layout in messages (default `oci:DIR[:TAG]`). */
  location?: string;
  /** How the tagged manifest is named in index.json (default: ref.name = the reference's tag; untagged without one). */
  name?: EntryName;
}

/** The lock serializing index.json updates of one layout across processes. */
export const LOCK_FILE = 'index.json.lock';
const STAGING_PREFIX = '.lading-tmp-';

/**
 * Opens an OCI image layout for writing (created if missing). Blobs are verified while they stream into a
 * private staging directory inside the layout; `commit()` moves them into `blobs/sha256` (existing blobs
 * are kept, not rewritten) and rewrites index.json atomically under a lock file, so concurrent writers
 * to one layout keep each other's entries. Before commit nothing is visible; `abort()` removes the staging
 * directory and any directory this sink created, leaving the destination exactly as it was.
 *
 * Referrers (manifests with a `subject`) become untagged index.json entries carrying their artifactType
 * and annotations: the layout spec has no referrers store, and an index entry keeps them reachable (and
 * discoverable by `referrers()`) without inventing tags.
 */
export async function openLayoutSink(ref: LayoutReference, options: LayoutSinkOptions = {}): Promise<ContentSink> {
  if (ref.digest) throw new LadingError('USAGE', `oci:${ref.path}:${ref.digest}: cannot write to a digest; give a tag`);
  const location = options.location ?? `oci:${ref.path}${ref.tag ? `:${ref.tag}` : ''}`;
  const name = options.name ?? (ref.tag ? refNameEntry(ref.tag) : undefined);
  const dir = resolve(ref.path);
  await checkWritable(dir);
  return new LayoutSink(dir, location, name, options);
}

/** An existing destination must be a layout (or an empty directory); a corrupt index.json fails now, not at commit. */
async function checkWritable(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return;
    throw ioError(`cannot open ${dir} as an OCI layout`, err);
  }
  // Hidden names are other writers' staging and temp files: a layout being created by a concurrent first commit.
  if (entries.filter((e) => !e.startsWith('.') && e !== LOCK_FILE).length === 0) return;
  await checkLayoutDir(dir);
  await readLayoutIndex(dir, true);
}

/** Creates `dir` and returns the directories that did not exist before, deepest first. */
async function mkdirTracked(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      await stat(d);
      break;
    } catch (err) {
      if (!isNotFound(err) || dirname(d) === d) break;
      missing.push(d);
    }
  }
  await mkdir(dir, { recursive: true });
  return missing;
}

async function blobPresent(path: string, size: number): Promise<boolean> {
  try {
    return (await stat(path)).size === size;
  } catch {
    return false;
  }
}

/** Staging directories older than this were left by a crashed writer (no export stays open for a day). */
const ABANDONED_MS = 24 * 3600_000;

async function removeAbandonedStaging(dir: string, own: string | undefined): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (!name.startsWith(STAGING_PREFIX) || path === own) continue;
    const st = await stat(path).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > ABANDONED_MS) await rm(path, { recursive: true, force: true }).catch(() => {});
  }
}

class LayoutSink implements ContentSink {
  #staging: string | undefined;
  #stagingReady: Promise<string> | undefined;
  readonly #created: string[] = [];
  readonly #staged = new Map<Digest, string>();
  readonly #inFlight = new Map<Digest, Promise<BlobPutResult>>();
  #tagged: Descriptor | undefined;
  readonly #untagged: Descriptor[] = [];
  readonly #referrers: Descriptor[] = [];
  #state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(
    readonly dir: string,
    readonly location: string,
    private readonly name: EntryName | undefined,
    private readonly lockOptions: FileLockOptions,
  ) {}

  async hasBlob(desc: Descriptor): Promise<boolean> {
    return this.#staged.has(desc.digest) || blobPresent(blobPath(this.dir, desc.digest), desc.size);
  }

  async putBlob(desc: Descriptor, open: () => Promise<Readable>): Promise<BlobPutResult> {
    this.#checkOpen();
    const pending = this.#inFlight.get(desc.digest);
    if (pending) return pending.then(() => 'exists');
    // Registered before the first await, so a second put of the same digest (a repeated layer) waits for this one.
    const work = this.hasBlob(desc).then((has) => (has ? 'exists' : this.#stage(desc, open)));
    this.#inFlight.set(desc.digest, work);
    try {
      return await work;
    } finally {
      this.#inFlight.delete(desc.digest);
    }
  }

  async #stage(desc: Descriptor, open: () => Promise<Readable>): Promise<BlobPutResult> {
    const staging = await this.#stagingDir();
    const path = join(staging, hexOf(desc.digest));
    try {
      await pipeline(await open(), verifying(desc, `${this.location} blob ${desc.digest}`), createWriteStream(path, { flags: 'wx', flush: true }));
    } catch (err) {
      await rm(path, { force: true }).catch(() => {});
      if (err instanceof LadingError) throw err;
      throw ioError(`${this.location}: cannot write blob ${desc.digest}`, err);
    }
    this.#staged.set(desc.digest, path);
    return 'uploaded';
  }

  async putManifest(bytes: Buffer, mediaType: string, options: { tag?: boolean } = {}): Promise<Descriptor> {
    this.#checkOpen();
    const digest = digestOf(bytes);
    const parsed = parseManifest(bytes, `${this.location} manifest ${digest}`, mediaType);
    for (const child of children(parsed)) {
      if (child.urls?.length) continue; // foreign layers live elsewhere
      if (!(await this.hasBlob(child))) {
        throw new NotFoundError(`${this.location}: manifest ${digest} refers to ${child.digest}, which was not written first`);
      }
    }
    const desc: Descriptor = { mediaType: parsed.mediaType, digest, size: bytes.byteLength };
    await this.putBlob(desc, async () => Readable.from([bytes]));
    const subject = parsed.manifest.subject;
    if (subject) {
      const entry: Descriptor = { ...desc };
      const artifactType = referrerArtifactType(parsed);
      if (artifactType) entry.artifactType = artifactType;
      if (parsed.manifest.annotations) entry.annotations = { ...parsed.manifest.annotations };
      this.#referrers.push(entry);
    }
    if (options.tag) {
      if (this.name) this.#tagged = desc;
      else this.#untagged.push(desc);
    }
    return desc;
  }

  async commit(): Promise<void> {
    this.#checkOpen();
    try {
      this.#created.push(...(await mkdirTracked(this.dir)));
      await withFileLock(join(this.dir, LOCK_FILE), () => this.#publish(), this.lockOptions);
    } catch (err) {
      await this.abort();
      throw err;
    }
    this.#state = 'committed';
    if (this.#staging) await rm(this.#staging, { recursive: true, force: true }).catch(() => {});
  }

  /** Under the lock: oci-layout, then blobs, then index.json (readers never see an entry before its blobs). */
  async #publish(): Promise<void> {
    try {
      await stat(join(this.dir, OCI_LAYOUT_FILE));
    } catch {
      await writeFileAtomic(join(this.dir, OCI_LAYOUT_FILE), OCI_LAYOUT_BYTES);
    }
    await mkdir(join(this.dir, BLOBS_DIR), { recursive: true });
    await removeAbandonedStaging(this.dir, this.#staging);
    for (const [digest, path] of this.#staged) {
      const target = blobPath(this.dir, digest);
      const size = (await stat(path)).size;
      if (await blobPresent(target, size)) continue; // another writer stored it meanwhile: keep theirs
      try {
        await rename(path, target);
      } catch (err) {
        throw ioError(`${this.location}: cannot store blob ${digest}`, err);
      }
    }
    const before = await readLayoutIndex(this.dir, true);
    let index: ImageIndex = before;
    for (const d of this.#untagged) index = withEntry(index, d, undefined);
    if (this.#tagged) index = withEntry(index, this.#tagged, this.name);
    for (const d of this.#referrers) index = withReferrer(index, d);
    let exists = true;
    await stat(join(this.dir, INDEX_FILE)).catch(() => (exists = false));
    if (index !== before || !exists) await writeFileAtomic(join(this.dir, INDEX_FILE), stableJsonBytes(index));
  }

  async abort(): Promise<void> {
    if (this.#state === 'committed') return;
    this.#state = 'aborted';
    await Promise.allSettled([...this.#inFlight.values()]);
    if (this.#staging) await rm(this.#staging, { recursive: true, force: true }).catch(() => {});
    for (const d of this.#created) await rmdir(d).catch(() => {});
  }

  #stagingDir(): Promise<string> {
    this.#stagingReady ??= (async () => {
      this.#created.push(...(await mkdirTracked(this.dir)));
      this.#staging = await mkdtemp(join(this.dir, STAGING_PREFIX));
      return this.#staging;
    })();
    return this.#stagingReady;
  }

  #checkOpen(): void {
    if (this.#state !== 'open') throw new LadingError('INTERNAL', `${this.location}: sink already ${this.#state}`);
  }
}
