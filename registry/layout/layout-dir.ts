import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  ANNOTATION_REF_NAME, InvalidContentError, LadingError, MediaType, NotFoundError, hexOf, isRecord, parseDescriptor,
  parseJson, stableJsonBytes, type Descriptor, type Digest, type ImageIndex,
} from '../oci/index.js';

/** The files of an OCI image layout (image-spec image-layout.md). */
export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
export const BLOBS_DIR = 'blobs/sha256';
export const OCI_LAYOUT_BYTES = stableJsonBytes({ imageLayoutVersion: '1.0.0' });

/** Manifests bigger than this are refused rather than buffered (registries use 4 MiB too). */
export const MAX_MANIFEST_BYTES = 4 << 20;

export function blobPath(dir: string, digest: Digest): string {
  return join(dir, BLOBS_DIR, hexOf(digest));
}

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}

/** The `org.opencontainers.image.ref.name` of an index entry, if any. */
export function refNameOf(desc: Descriptor): string | undefined {
  return desc.annotations?.[ANNOTATION_REF_NAME];
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export function ioError(message: string, cause: unknown): LadingError {
  return new LadingError('IO', `${message}: ${(cause as Error).message}`, { cause });
}

/** Fails unless `dir` is a directory holding a valid `oci-layout` file. */
export async function checkLayoutDir(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    if (isNotFound(err)) throw new NotFoundError(`OCI layout ${dir} does not exist`, { cause: err });
    throw ioError(`cannot read OCI layout ${dir}`, err);
  }
  if (!st.isDirectory()) throw new InvalidContentError(`OCI layout ${dir} is not a directory`);
  const file = join(dir, OCI_LAYOUT_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if (isNotFound(err)) throw new InvalidContentError(`${dir} is not an OCI image layout (it has no ${OCI_LAYOUT_FILE} file)`, { cause: err });
    throw ioError(`cannot read ${file}`, err);
  }
  const doc = parseJson(bytes, file);
  if (!isRecord(doc) || typeof doc.imageLayoutVersion !== 'string') {
    throw new InvalidContentError(`${file}: expected {"imageLayoutVersion": "1.0.0"}`);
  }
  if (!/^1\./.test(doc.imageLayoutVersion)) {
    throw new InvalidContentError(`${file}: unsupported imageLayoutVersion "${doc.imageLayoutVersion}"`);
  }
}

/** Parses a layout's `index.json`; `missingOk` returns an empty index when the file does not exist. */
export async function readLayoutIndex(dir: string, missingOk = false): Promise<ImageIndex> {
  const file = join(dir, INDEX_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if (isNotFound(err)) {
      if (missingOk) return emptyIndex();
      throw new InvalidContentError(`${dir} is not an OCI image layout (it has no ${INDEX_FILE})`, { cause: err });
    }
    throw ioError(`cannot read ${file}`, err);
  }
  return parseLayoutIndex(bytes, file);
}

export function parseLayoutIndex(bytes: Uint8Array, file: string): ImageIndex {
  const doc = parseJson(bytes, file);
  if (!isRecord(doc)) throw new InvalidContentError(`${file}: not a JSON object`);
  if (doc.schemaVersion !== 2) throw new InvalidContentError(`${file}: schemaVersion must be 2`);
  if (doc.mediaType !== undefined && doc.mediaType !== MediaType.OciIndex) {
    throw new InvalidContentError(`${file}: mediaType must be ${MediaType.OciIndex}, not "${String(doc.mediaType)}"`);
  }
  if (!Array.isArray(doc.manifests)) throw new InvalidContentError(`${file}: has no "manifests" array`);
  const manifests = doc.manifests.map((m, i) => parseDescriptor(m, `${file} manifests[${i}]`));
  return { ...(doc as object), schemaVersion: 2, manifests } as ImageIndex;
}

/** A unique temp name inside `dir` (same filesystem, so a rename is atomic). */
export function tempName(dir: string, base: string): string {
  return join(dir, `.${base}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Writes `path` atomically: a temp file beside it, fsync, rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempName(dirname(path), basename(path));
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw ioError(`cannot write ${path}`, err);
  }
}
