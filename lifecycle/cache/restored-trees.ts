import { createHash } from 'node:crypto';
import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../../registry/oci/index.js';

type Stats = BigIntStats;

/**
 * What the last walks saw of each directory, by the walked root's device and inode (a rename keeps them: the
 * restore moves a kept tree into the layers dir and the export walks it again), then by the directory's path
 * in the tree: its stat key and its sorted names. A later walk takes the names from here instead of reading
 * the directory when the directory's inode, mode, mtime and ctime are what they were: adding, removing or
 * renaming an entry sets both times (and a user cannot set ctime back), so its names are the same. Every
 * entry is still lstat'ed. The root is always read (its ctime is not held, see `stateCtime`). On this VM a
 * readdir is five system calls to an lstat's one: a Node.js runtime's 520 directories are half a walk.
 */
const listings = new Map<string, Map<string, { key: string; names: string[] }>>();
/** Roots remembered at most (the oldest goes): a build walks a handful; the test suite walks thousands. */
const LISTED_ROOTS = 32;

/**
 * The listing the last walk of `dir` left (see `listings`) as text, to be kept beside a tree that is kept for a
 * later process (the cache's unpacked copies); undefined when no walk of it is remembered.
 */
export function treeListingText(dir: string): string | undefined {
  const st = lstatSync(dir, { bigint: true, throwIfNoEntry: false });
  const listing = st && listings.get(`${st.dev}:${st.ino}`);
  return listing ? JSON.stringify([...listing]) : undefined;
}

/**
 * Takes a listing kept beside `dir` (treeListingText) for the next walk of it. Text that is not such a listing
 * is ignored. It need not be trusted: a directory's names are taken from it only where the directory's stat
 * is the one it records, and the walk's state is compared with the recorded state as ever.
 */
export function adoptTreeListing(dir: string, text: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return;
  }
  const st = lstatSync(dir, { bigint: true, throwIfNoEntry: false });
  if (!st || !Array.isArray(parsed)) return;
  const listing = new Map<string, { key: string; names: string[] }>();
  for (const e of parsed as unknown[]) {
    const [rel, v] = Array.isArray(e) ? (e as [unknown, { key?: unknown; names?: unknown } | undefined]) : [];
    // names as readdir gives them: never a path (a listing could otherwise send the walk outside the tree)
    const names = Array.isArray(v?.names) ? (v.names as unknown[]) : undefined;
    if (typeof rel !== 'string' || typeof v?.key !== 'string' || !names?.every((n) => typeof n === 'string' && n !== '' && n !== '.' && n !== '..' && !n.includes('/'))) return;
    listing.set(rel, { key: v.key, names: names as string[] });
  }
  listings.set(`${st.dev}:${st.ino}`, listing);
}

/** Tests: walks read every directory again. */
export function forgetTreeListings(): void {
  listings.clear();
}

/**
 * Visits every entry of `dir` (the root first, then depth-first in sorted name order); false when `dir` does
 * not exist. Synchronous on purpose: thousands of lstat calls through the thread pool cost far more than the
 * calls themselves (a Node.js runtime layer has ~2,500 entries), and nothing else runs meanwhile in these phases.
 */
function walkTree(dir: string, onEntry: (rel: string, st: Stats, path: string) => void): boolean {
  let known: Map<string, { key: string; names: string[] }> | undefined;
  const seen = new Map<string, { key: string; names: string[] }>();
  let rootKey: string | undefined;
  const visit = (path: string, rel: string): boolean => {
    let st;
    try {
      st = lstatSync(path, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    onEntry(rel, st, path);
    if (st.isDirectory()) {
      let names: string[];
      if (rel === '') {
        rootKey = `${st.dev}:${st.ino}`;
        known = listings.get(rootKey);
        names = readdirSync(path).sort();
      } else {
        const key = `${st.dev}:${st.ino}\0${st.mode}\0${st.mtimeNs}\0${st.ctimeNs}`;
        const was = known?.get(rel);
        names = was && was.key === key ? was.names : readdirSync(path).sort();
        seen.set(rel, { key, names });
      }
      // plain concatenation, not path.join: a readdir name has no separator to normalize, and join's parsing
      // costs ~15% of a cold walk
      const prefix = rel === '' ? '' : `${rel}/`;
      for (const name of names) visit(`${path}/${name}`, prefix + name);
    }
    return true;
  };
  const found = visit(dir, '');
  if (rootKey !== undefined) {
    listings.delete(rootKey);
    listings.set(rootKey, seen);
    if (listings.size > LISTED_ROOTS) listings.delete(listings.keys().next().value!);
  }
  return found;
}

/**
 * ctime is left out for the root (moving the tree, a rename, sets it; nothing else is learnt from it) and for
 * a file or symlink with more than one link: its inode is shared with another tree (lading's layer tree store,
 * docs/lifecycle.md "Layer tree store"), and every link or unlink of it anywhere sets its ctime. Such an entry is
 * still held by its inode, mode, size and mtime.
 */
const stateCtime = (rel: string, st: Stats): string => (rel === '' || (st.nlink > 1n && !st.isDirectory()) ? '' : `${st.ctimeNs}`);
const stateLine = (rel: string, st: Stats): string => `${rel}\0${st.mode}\0${st.size}\0${st.dev}:${st.ino}\0${st.mtimeNs}\0${stateCtime(rel, st)}\n`;

/**
 * What a directory tree looks like on disk, as a hash of every entry's relative path, type, mode, size,
 * inode, mtime and ctime (nanoseconds; the root's ctime excepted, and that of files linked elsewhere too, see
 * `stateCtime`). Any write, truncation, chmod, rename, added or removed entry changes it: the kernel updates ctime on every change to an inode and a user cannot set it
 * back, and a replaced file has a new inode. Reading contents is not needed, so it costs one lstat per entry.
 * `undefined` when the tree does not exist. Buildpacks compute the same (buildpacks/lib/layer-content.ts) for
 * content markers.
 */
export async function treeState(dir: string): Promise<string | undefined> {
  return treeStateSync(dir);
}

/** `treeState`, synchronously. */
export function treeStateSync(dir: string): string | undefined {
  const hash = createHash('sha256');
  return walkTree(dir, (rel, st) => hash.update(stateLine(rel, st))) ? hash.digest('hex') : undefined;
}

/**
 * `treeState` and, from the same walk, the tree's shape: a hash of what a layer tar takes from the entries
 * besides file contents (paths, types, modes, file sizes, symlink targets), the same on any machine and in
 * any copy of the tree.
 */
export function treeStateAndShape(dir: string): { state: string; shape: string } | undefined {
  const state = createHash('sha256');
  const shape = createHash('sha256');
  const found = walkTree(dir, (rel, st, path) => {
    state.update(stateLine(rel, st));
    const kind = st.isDirectory() ? 'd' : st.isFile() ? `f\0${st.size}` : st.isSymbolicLink() ? `l\0${readlinkSync(path)}` : 'x';
    shape.update(`${rel}\0${st.mode}\0${kind}\n`);
  });
  return found ? { state: state.digest('hex'), shape: shape.digest('hex') } : undefined;
}

/**
 * A tree's state without any ctime: for a tree whose inodes other trees share (lading's layer tree store), whose
 * ctimes any link or unlink elsewhere sets. Held by every entry's path, mode, size, inode and mtime.
 */
export function linkedTreeState(dir: string): string | undefined {
  const hash = createHash('sha256');
  return walkTree(dir, (rel, st) => hash.update(linkedStateLine(rel, st))) ? hash.digest('hex') : undefined;
}

const linkedStateLine = (rel: string, st: Stats): string => `${rel}\0${st.mode}\0${st.size}\0${st.dev}:${st.ino}\0${st.mtimeNs}\n`;

/**
 * Links the tree `from` at `to` (which must not exist: directories made with the same modes, files and
 * symlinks hard-linked) and returns `linkedTreeState(from)`, taken in the same walk (linking changes none of
 * what it holds); undefined when `from` does not exist. Throws on a socket, fifo or device and on any failure,
 * leaving `to` partly made.
 */
export function linkTreeState(from: string, to: string): string | undefined {
  const hash = createHash('sha256');
  const dirs: Array<[string, number]> = [];
  const found = walkTree(from, (rel, st, path) => {
    hash.update(linkedStateLine(rel, st));
    const target = rel === '' ? to : join(to, rel);
    if (st.isDirectory()) {
      mkdirSync(target);
      dirs.push([target, Number(st.mode & 0o7777n)]);
    } else if (st.isFile() || st.isSymbolicLink()) {
      linkSync(path, target);
    } else {
      throw new Error(`${path}: not a file, directory or symlink`);
    }
  });
  // modes last, deepest first: a read-only directory is filled before it becomes read-only
  for (const [dir, mode] of dirs.reverse()) chmodSync(dir, mode);
  return found ? hash.digest('hex') : undefined;
}

/** One layer directory a restore filled from a cache entry. */
export interface RestoredTree {
  /** The cache entry's diffID: the tar the directory was unpacked from. */
  diffId: Digest;
  /** The layer's path in that tar (and in the image), e.g. `/layers/example_node/deps`. */
  imagePath: string;
  /** `treeState` right after unpacking. */
  state: string;
}

/**
 * Layer directories restored from a cache, by directory, kept with the cache object that holds their bytes so
 * the exporter of the same build can tell which ones the build left untouched: for those the cached tar is
 * still the layer's tar, and the export keeps it by diffID instead of packing and hashing the directory again.
 */
const restoredByCache = new WeakMap<object, Map<string, RestoredTree>>();

export function noteRestoredTree(cache: object, dir: string, tree: RestoredTree): void {
  let trees = restoredByCache.get(cache);
  if (!trees) restoredByCache.set(cache, (trees = new Map()));
  trees.set(dir, tree);
}

/**
 * The diffID of the cache entry `dir` was restored from, and the tree state, when the directory is provably as
 * the restore left it (same `treeState`) and is packed at the same image path; else undefined (pack it again).
 */
export async function unchangedRestoredTree(cache: object, dir: string, imagePath: string): Promise<{ diffId: Digest; state: string } | undefined> {
  const tree = restoredByCache.get(cache)?.get(dir);
  if (!tree || tree.imagePath !== imagePath) return undefined;
  return (await treeState(dir)) === tree.state ? { diffId: tree.diffId, state: tree.state } : undefined;
}
