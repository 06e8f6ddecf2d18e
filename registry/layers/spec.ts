import { LadingError, type ErrorCode } from '../oci/index.js';

/** A layer-writer failure; the message names the file or image path involved. */
export class LayerError extends LadingError {
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? {} : { cause });
    this.name = 'LayerError';
  }
}

/** CNB's normalized mtime (lifecycle archive/writer.go): 1980-01-01T00:00:01Z. */
export const NORMALIZED_MTIME = new Date(Date.UTC(1980, 0, 1, 0, 0, 1));

/**
 * The version of the tar bytes planLayer + packEntries write for a given tree and settings. Anything that keeps
 * a diffID for a tree it did not pack again (the exporter's layer-digest memo, keyed by this) relies on it:
 * bump it with any change to entry order, headers, modes, owners or padding (including a tar-stream upgrade
 * that changes them). create-layer.test.ts pins the diffID of a reference tree to this version.
 */
export const TAR_FORMAT_VERSION = 1;
/** CNB_USER_ID / CNB_GROUP_ID default of the stacks lading builds. */
export const DEFAULT_CONTENT_ID = 1000;
/** The largest uid/gid a ustar header holds (7 octal digits); tar-stream clamps silently above it. */
export const MAX_TAR_ID = 0o777777;

/** Owner override: either or both ids. */
export interface Owner {
  uid?: number;
  gid?: number;
}

/** What a directory-walk filter sees: the path relative to the mapped root, posix separators. */
export interface WalkEntryInfo {
  type: 'file' | 'dir' | 'symlink';
  /** File mode bits as found on disk (permission bits only). */
  mode: number;
}

/** A host directory placed at an absolute image path, e.g. `/tmp/build/app` → `/workspace`. */
export interface DirectoryMapping extends Owner {
  /** Host directory. Symlinks inside it are written as links, never followed. */
  source: string;
  /** Absolute image path of the directory (`/` allowed). */
  target: string;
  /** Include predicate; returning false for a directory skips its whole subtree. */
  filter?: (relativePath: string, info: WalkEntryInfo) => boolean;
}

interface EntryBase extends Owner {
  /** Absolute image path. */
  path: string;
}

/** A regular file from bytes or from a host file (followed if it is a symlink). */
export interface FileEntry extends EntryBase {
  type: 'file';
  content?: Uint8Array | string;
  source?: string;
  /** Permission bits kept as given (incl. setuid/setgid/sticky); default 0644/0755 from the host file or 0644. */
  mode?: number;
}

export interface DirEntry extends EntryBase {
  type: 'dir';
  /** Default 0755. */
  mode?: number;
}

export interface SymlinkEntry extends EntryBase {
  type: 'symlink';
  /** Link target, written verbatim. */
  target: string;
}

export interface HardlinkEntry extends EntryBase {
  type: 'hardlink';
  /** Absolute image path of a regular file in the same layer. */
  target: string;
}

export type LayerEntry = FileEntry | DirEntry | SymlinkEntry | HardlinkEntry;

/** The contents of one layer: walked directories and explicit entries, merged. Paths must not repeat. */
export interface LayerSpec {
  directories?: readonly DirectoryMapping[];
  entries?: readonly LayerEntry[];
  /** Copied onto the resulting Layer. */
  annotations?: Readonly<Record<string, string>>;
}

export interface LayerWriteOptions {
  /** Owner of content entries (walked and explicit), default 1000:1000. */
  uid?: number;
  gid?: number;
  /** Owner of the directories implied above mapped roots and entries (e.g. `layers/`), default 0:0. */
  parentUid?: number;
  parentGid?: number;
  /** mtime of every entry; default 1980-01-01T00:00:01Z. Whole seconds between 1970 and 2038. */
  mtime?: Date;
  /** `gzip` (default): `…tar+gzip`; `none`: `…tar`. */
  compression?: 'gzip' | 'none';
  /**
   * `auto` (default) uses Node's zlib when a start-up probe shows it produces the same bytes as the
   * portable implementation, else the portable one; `portable` always uses the pure-JS deflate (pako).
   */
  deflate?: 'auto' | 'portable';
  /** Sockets, FIFOs and devices in walked directories: `error` (default) or `skip`. */
  specialFiles?: 'error' | 'skip';
  /** Where the spooled blobs go; default os.tmpdir(). */
  tempDir?: string;
  /** createLayers: how many layers are built at once (default 2). */
  concurrency?: number;
  /**
   * Keep compressed blobs of large gzip layers between runs (see blob-cache.ts): a layer whose tar was seen
   * before is hashed but not compressed again.
   */
  blobCache?: BlobCacheOptions;
}

export interface BlobCacheOptions {
  /** The directory (`LADING_HOME/cache/layer-blobs`). */
  dir: string;
  /** Layers with less file content than this are compressed as usual (default 16 MiB). */
  minSize?: number;
}

/** Resolved options, every default applied. */
export interface WriteSettings {
  uid: number;
  gid: number;
  parentUid: number;
  parentGid: number;
  mtime: Date;
  compression: 'gzip' | 'none';
  deflate: 'auto' | 'portable';
  specialFiles: 'error' | 'skip';
  tempDir: string | undefined;
}

export function resolveSettings(options: LayerWriteOptions): WriteSettings {
  const s: WriteSettings = {
    uid: options.uid ?? DEFAULT_CONTENT_ID,
    gid: options.gid ?? DEFAULT_CONTENT_ID,
    parentUid: options.parentUid ?? 0,
    parentGid: options.parentGid ?? 0,
    mtime: options.mtime ?? NORMALIZED_MTIME,
    compression: options.compression ?? 'gzip',
    deflate: options.deflate ?? 'auto',
    specialFiles: options.specialFiles ?? 'error',
    tempDir: options.tempDir,
  };
  checkId(s.uid, 'uid', 'layer options');
  checkId(s.gid, 'gid', 'layer options');
  checkId(s.parentUid, 'parentUid', 'layer options');
  checkId(s.parentGid, 'parentGid', 'layer options');
  const ms = s.mtime.getTime();
  if (!Number.isFinite(ms) || ms % 1000 !== 0 || ms < 0 || ms / 1000 > 0x7fffffff) {
    throw new LayerError('USAGE', `layer options: mtime ${String(s.mtime)} must be whole seconds between 1970 and 2038`);
  }
  return s;
}

/** Rejects ids a ustar header cannot hold instead of letting tar-stream clamp them. */
export function checkId(id: number, field: string, where: string): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_TAR_ID) {
    throw new LayerError('USAGE', `${where}: ${field} ${id} is outside 0..${MAX_TAR_ID}, the range a tar header holds`);
  }
}

/**
 * `/a/b/` → `a/b` (the tar name); `/` → ``. Rejects relative paths, `.`/`..` segments, empty segments
 * and NUL bytes so that every image path has exactly one spelling.
 */
export function tarPathOf(imagePath: string, where: string): string {
  if (!imagePath.startsWith('/')) {
    throw new LayerError('USAGE', `${where}: image path "${imagePath}" must be absolute`);
  }
  const trimmed = imagePath.replace(/\/+$/, '');
  if (trimmed === '') return '';
  const parts = trimmed.slice(1).split('/');
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('\0')) {
      throw new LayerError('USAGE', `${where}: image path "${imagePath}" is not normalized`);
    }
  }
  return parts.join('/');
}

/** Permission bits of a walked file: 0755 if any execute bit is set, else 0644. */
export function normalizedFileMode(hostMode: number): number {
  return (hostMode & 0o111) !== 0 ? 0o755 : 0o644;
}
