import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Digester, type Digest } from '../oci/index.js';
import { DEFLATE_LEVEL } from './deflate-engine.js';
import { GZIP_BLOCK_SIZE } from './gzip-blocks.js';

/**
 * Compressed blobs of large layers, kept by diffID between runs: the Node.js runtime layer of a build with an
 * empty cache is the same 120 MB tar as the last build's, and compressing it again cost ~4 s where hashing
 * it costs a fraction of that. The compressed bytes are a function of the tar and of the gzip scheme (level,
 * block size: registry/layers/README.md), which name the sub-directory. A kept blob is verified against its
 * recorded digest before use; a missing, damaged or mismatched one is written afresh. Once verified, the
 * blob's stamp (device, inode, size, mtime, and ctime while the blob has one link) is recorded beside the
 * digest, and a blob with the same stamp is not read again (hashing the 50 MB Node.js runtime blob was ~0.1 s
 * of a cold build). A write changes the mtime, and a ctime cannot be set back, so a blob with one link cannot
 * be changed unseen; a blob linked elsewhere too (a --cache-dir holds it by hard link, and every link or
 * unlink there sets the shared ctime) is held by its mtime, as lading's layer content markers hold such files.
 */
const SCHEME = `gzip-l${DEFLATE_LEVEL}-b${GZIP_BLOCK_SIZE}`;

export interface KeptBlob {
  path: string;
  digest: Digest;
  size: number;
}

interface Record_ {
  digest: Digest;
  size: number;
  /** `stampOf` the blob when it was last hashed and found to be `digest`. */
  verified?: string;
}

const stampOf = (st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint; nlink: bigint }) =>
  `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.nlink === 1n ? st.ctimeNs : 'linked'}`;

/** Writes `rec` as `meta` by rename; failures are ignored (the record only saves time). */
async function writeRecord(meta: string, rec: Record_): Promise<void> {
  const tmp = `${meta}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(rec));
    await rename(tmp, meta);
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}

const hexOf = (d: Digest) => d.slice('sha256:'.length);

function paths(dir: string, diffId: Digest): { blob: string; meta: string } {
  const base = join(dir, SCHEME, hexOf(diffId));
  return { blob: `${base}.tar.gz`, meta: `${base}.json` };
}

async function digestOfFile(path: string): Promise<{ digest: Digest; size: number }> {
  const d = new Digester();
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) d.update(chunk as Buffer);
  return { digest: d.digest(), size: d.size };
}

/** The kept blob of the tar `diffId`, verified; undefined when there is none (a damaged one is removed). */
export async function keptBlob(dir: string, diffId: Digest): Promise<KeptBlob | undefined> {
  const { blob, meta } = paths(dir, diffId);
  let rec: Record_;
  try {
    rec = JSON.parse(await readFile(meta, 'utf8')) as Record_;
    if (typeof rec.digest !== 'string' || typeof rec.size !== 'number') throw new Error('malformed');
  } catch {
    return undefined;
  }
  try {
    const before = stampOf(await stat(blob, { bigint: true }));
    if (before === rec.verified) return { path: blob, digest: rec.digest, size: rec.size };
    const got = await digestOfFile(blob);
    if (got.digest === rec.digest && got.size === rec.size) {
      // stamped only when nothing touched the file while it was read
      if (stampOf(await stat(blob, { bigint: true })) === before) await writeRecord(meta, { digest: rec.digest, size: rec.size, verified: before });
      return { path: blob, digest: rec.digest, size: rec.size };
    }
  } catch {
    // missing
  }
  await rm(meta, { force: true });
  await rm(blob, { force: true });
  return undefined;
}

/**
 * Keeps `file` (a blob just written for the tar `diffId`) by hard link, or by copy across filesystems. Failures
 * are ignored: the cache only ever saves time.
 */
export async function keepBlob(dir: string, diffId: Digest, file: string, blob: { digest: Digest; size: number }): Promise<void> {
  const target = paths(dir, diffId);
  const tmp = `.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(join(dir, SCHEME), { recursive: true });
    try {
      await link(file, target.blob + tmp);
    } catch {
      const { copyFile } = await import('node:fs/promises');
      await copyFile(file, target.blob + tmp);
    }
    await rename(target.blob + tmp, target.blob);
    await writeFile(target.meta + tmp, JSON.stringify({ digest: blob.digest, size: blob.size }));
    await rename(target.meta + tmp, target.meta);
  } catch {
    await rm(target.blob + tmp, { force: true }).catch(() => undefined);
    await rm(target.meta + tmp, { force: true }).catch(() => undefined);
  }
}
