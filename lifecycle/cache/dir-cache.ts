import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { FileLayer } from '../../registry/layers/index.js';
import { LadingError, NotFoundError, hexOf, type Digest, type Layer } from '../../registry/oci/index.js';
import { withFileLock } from '../../registry/layout/index.js';
import { parseCacheMetadata, serializeCacheMetadata, type CacheMetadata } from '../platform/index.js';
import { cachedDiffIds, withDiffIdCheck, type CacheOptions, type CacheWriteResult, type LayerCache } from './cache.js';
import { adoptTreeListing, treeListingText, treeState, treeStateSync } from './restored-trees.js';

const METADATA_FILE = 'metadata.json';
const BLOBS_DIR = 'blobs';
const STAGING_DIR = 'staging';
const TREES_DIR = 'trees';
const LOCK_FILE = 'cache.lock';
/** A staging dir this old belongs to a writer that crashed; the next commit removes it. */
const STALE_STAGING_MS = 60 * 60 * 1000;

export interface DirCacheOptions extends CacheOptions {
  /** Test hook: runs after every blob is staged, before the commit takes the lock. */
  beforeCommit?: () => Promise<void>;
}

/**
 * A cache in a directory (`--cache-dir`). Layout: `blobs/<hex>.tar` (uncompressed tars by diffID, immutable;
 * `blobs/<hex>.tar.gz` where the export had the layer's gzip blob in a file, which is linked instead of
 * writing the tar: a Node.js runtime is 47 MiB that way instead of 120 MB written anew),
 * `metadata.json` (the current generation, cache-label JSON) and `staging/<writer>/`. A writer stages new tars
 * and hard links to the ones it keeps in its own staging dir, then, holding `cache.lock`, renames them into
 * `blobs/`, replaces `metadata.json` by rename and removes unreferenced blobs. Readers never see a partial
 * generation; a writer that crashes leaves only a staging dir, which a later commit removes. Blobs are
 * verified against their diffID as they are read, so a damaged one is detected, never half-trusted.
 *
 * `trees/<hex>/` is an unpacked copy of a blob that a build left untouched (`keepTree`), with
 * `trees/<hex>.state`, its `treeState` when kept, and `trees/<hex>.listing`, the names of its directories as
 * the export saw them, so that checking it reads only the directories changed since (restored-trees.ts). A
 * restore moves it into the layers dir (`takeTree`, one rename instead of unpacking) only while that state
 * still holds; else the blob is unpacked as usual. A commit removes the copies of blobs it drops.
 */
export class DirCache implements LayerCache {
  readonly location: string;
  /** Cache-only layers come as tars, which are linked into `blobs/` as they are. */
  readonly compression = 'none' as const;
  /** Blobs found damaged while reading: rewritten from fresh contents instead of kept. */
  readonly #damaged = new Set<Digest>();
  /** checkTrees()'s answers by tree dir: the state found (undefined: no tree), while no takeTree used them. */
  readonly #checked = new Map<string, string | undefined>();
  constructor(readonly dir: string, private readonly options: DirCacheOptions = {}) {
    this.location = `cache dir ${dir}`;
  }

  /** The committed blob of `diffId`: its tar, else its gzip blob; undefined when the cache has neither. */
  private async blob(diffId: Digest): Promise<{ path: string; gzip: boolean } | undefined> {
    for (const gzip of [false, true]) {
      const path = join(this.dir, BLOBS_DIR, `${hexOf(diffId)}.tar${gzip ? '.gz' : ''}`);
      if (await stat(path).then(() => true, () => false)) return { path, gzip };
    }
    return undefined;
  }

  async read(): Promise<CacheMetadata> {
    const file = join(this.dir, METADATA_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { buildpacks: [] };
      throw new LadingError('IO', `${file}: cannot read the cache metadata: ${(err as Error).message}`, { cause: err });
    }
    try {
      return parseCacheMetadata(text);
    } catch (err) {
      this.options.onWarning?.(`${file}: ignoring a corrupt cache (${(err as Error).message})`);
      return { buildpacks: [] };
    }
  }

  async open(diffId: Digest): Promise<Readable> {
    const blob = await this.blob(diffId);
    if (!blob) throw new NotFoundError(`${this.location}: no cached layer ${diffId}`);
    // Large reads and inflate chunks: the 64 KiB / 16 KiB defaults double the cost of unpacking a large layer.
    let raw: Readable = createReadStream(blob.path, { highWaterMark: 1 << 20 });
    if (blob.gzip) {
      const gunzip = createGunzip({ chunkSize: 1 << 20 });
      raw.on('error', (err) => gunzip.destroy(err));
      raw = raw.pipe(gunzip);
    }
    const stream = withDiffIdCheck(raw, diffId, `${this.location}: cached layer ${diffId}`);
    stream.on('error', () => this.#damaged.add(diffId));
    return stream;
  }

  private tree(diffId: Digest): string {
    return join(this.dir, TREES_DIR, hexOf(diffId));
  }

  checkTrees(): void {
    const dir = join(this.dir, TREES_DIR);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // none kept (or unreadable: takeTree reports nothing either)
    }
    for (const name of names) {
      if (!name.endsWith('.state')) continue;
      const tree = join(dir, name.slice(0, -'.state'.length));
      try {
        // what the export that kept it saw of its directories: most are not read again
        adoptTreeListing(tree, readFileSync(`${tree}.listing`, 'utf8'));
      } catch {
        // none kept: every directory is read
      }
      try {
        this.#checked.set(tree, treeStateSync(tree));
      } catch {
        // takeTree walks it again and treats a failure there as altered
      }
    }
  }

  async takeTree(diffId: Digest, dest: string): Promise<string | undefined> {
    const tree = this.tree(diffId);
    const recorded = await readFile(`${tree}.state`, 'utf8').catch(() => undefined);
    if (recorded === undefined) return undefined;
    const checked = this.#checked.has(tree);
    const state = checked ? this.#checked.get(tree) : await treeState(tree).catch(() => undefined);
    this.#checked.delete(tree);
    if (state !== recorded.trim()) {
      if (state !== undefined) this.options.onWarning?.(`${this.location}: the unpacked copy of ${diffId} was altered; unpacking the blob instead`);
      await rm(tree, { recursive: true, force: true });
      await rm(`${tree}.state`, { force: true });
      await rm(`${tree}.listing`, { force: true });
      return undefined;
    }
    await rm(dest, { recursive: true, force: true });
    try {
      await rename(tree, dest);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EXDEV' || code === 'EPERM' || code === 'EACCES') return undefined; // taken by another build, or another filesystem
      throw err;
    }
    await rm(`${tree}.state`, { force: true });
    await rm(`${tree}.listing`, { force: true });
    return state;
  }

  async keepTree(diffId: Digest, dir: string, state: string): Promise<boolean> {
    const tree = this.tree(diffId);
    this.#checked.delete(tree);
    await mkdir(join(this.dir, TREES_DIR), { recursive: true });
    try {
      await rename(dir, tree);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EXDEV' || code === 'EPERM' || code === 'EACCES') return false; // one is kept already, or another filesystem
      throw err;
    }
    // a move within one filesystem keeps the tree state (the root's ctime is not part of it) and its listing
    const listing = treeListingText(tree);
    if (listing !== undefined) await writeFile(`${tree}.listing`, listing);
    else await rm(`${tree}.listing`, { force: true });
    const tmp = `${tree}.state.${randomBytes(6).toString('hex')}`;
    await writeFile(tmp, `${state}\n`);
    await rename(tmp, `${tree}.state`);
    return true;
  }

  async write(metadata: CacheMetadata, layers: ReadonlyMap<Digest, Layer>, signal?: AbortSignal): Promise<CacheWriteResult> {
    const staging = join(this.dir, STAGING_DIR, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    await mkdir(join(this.dir, BLOBS_DIR), { recursive: true });
    await mkdir(staging, { recursive: true });
    const result: CacheWriteResult = { written: 0, reused: 0 };
    try {
      const staged: string[] = [];
      for (const diffId of cachedDiffIds(metadata)) {
        signal?.throwIfAborted();
        const existing = this.#damaged.has(diffId) ? undefined : await this.blob(diffId);
        const kept = existing ? `${hexOf(diffId)}.tar${existing.gzip ? '.gz' : ''}` : undefined;
        if (existing && kept && (await keepExisting(existing.path, join(staging, kept)))) {
          result.reused++;
          staged.push(kept);
          continue;
        }
        const layer = layers.get(diffId);
        if (!layer) throw new LadingError('EXPORT', `${this.location}: no contents for cached layer ${diffId}`);
        // A blob already in a file (the export's) is linked as it is, a gzip one as `.tar.gz`; its diffID is
        // the layer's own.
        const file = layer instanceof FileLayer && layer.diffId === diffId && !layer.disposed ? layer : undefined;
        const linked = file && `${hexOf(diffId)}.tar${/gzip/.test(file.mediaType) ? '.gz' : ''}`;
        if (file && linked && (await keepExisting(file.path, join(staging, linked)))) {
          staged.push(linked);
        } else {
          const name = `${hexOf(diffId)}.tar`;
          const src = withDiffIdCheck(await layer.uncompressed(), diffId, `layer ${diffId}`);
          await pipeline(src, createWriteStream(join(staging, name), { flags: 'wx' }), ...(signal ? [{ signal }] : []));
          staged.push(name);
        }
        result.written++;
      }
      await this.options.beforeCommit?.();
      signal?.throwIfAborted();
      await withFileLock(join(this.dir, LOCK_FILE), () => this.commit(staging, staged, metadata));
      return result;
    } catch (err) {
      if (err instanceof LadingError) throw err;
      if (signal?.aborted) throw new LadingError('INTERRUPTED', `${this.location}: cache write cancelled`, { cause: err });
      throw new LadingError('IO', `${this.location}: writing the cache failed: ${(err as Error).message}`, { cause: err });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private async commit(staging: string, staged: readonly string[], metadata: CacheMetadata): Promise<void> {
    for (const name of staged) await rename(join(staging, name), join(this.dir, BLOBS_DIR, name));
    const tmp = join(this.dir, `.${METADATA_FILE}.${randomBytes(6).toString('hex')}`);
    await writeFile(tmp, serializeCacheMetadata(metadata));
    await rename(tmp, join(this.dir, METADATA_FILE));
    const keep = new Set(staged);
    for (const name of await readdir(join(this.dir, BLOBS_DIR))) {
      if (!keep.has(name)) await rm(join(this.dir, BLOBS_DIR, name), { force: true });
    }
    const kept = new Set([...keep].map((n) => n.replace(/\..*$/, '')));
    for (const name of await readdir(join(this.dir, TREES_DIR)).catch(() => [] as string[])) {
      if (!kept.has(name.replace(/\..*$/, ''))) await rm(join(this.dir, TREES_DIR, name), { recursive: true, force: true });
    }
    await removeStaleStaging(join(this.dir, STAGING_DIR));
  }
}

/** Hard-links (or copies) a committed blob into the staging dir so a concurrent commit cannot remove it. */
async function keepExisting(blob: string, target: string): Promise<boolean> {
  try {
    await link(blob, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP') {
      try {
        await copyFile(blob, target);
        return true;
      } catch {
        return false;
      }
    }
    throw err;
  }
}

async function removeStaleStaging(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const started = Number(name.split('-')[0]);
    if (Number.isFinite(started) && now - started > STALE_STAGING_MS) await rm(join(dir, name), { recursive: true, force: true });
  }
}
