import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, link, mkdir, readdir, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { hexOf, InvalidContentError, LadingError, type Image } from '../../registry/oci/index.js';

/** Mount points a sandbox binds over; made in every unpacked root. */
const MOUNT_POINTS = ['proc', 'dev', 'tmp', 'workspace', 'layers', 'platform'];

/**
 * The builder image's filesystem unpacked under `cacheDir/rootfs/<manifest digest>` once (atomically), for
 * sandboxed builds: layers applied in order with OCI whiteouts, owners not applied (the sandbox maps the
 * stack user onto the user running lading), devices skipped. Returns the root directory.
 */
export async function unpackRootfs(image: Image, cacheDir: string): Promise<string> {
  const dest = join(cacheDir, 'rootfs', hexOf(image.descriptor.digest));
  if (await stat(join(dest, '.lading-complete')).then(() => true, () => false)) return dest;
  const tmp = `${dest}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await mkdir(tmp, { recursive: true });
    for (const layer of image.layers) await applyLayer(await layer.uncompressed(), tmp, layer.diffId);
    for (const m of MOUNT_POINTS) {
      await mkdir(join(tmp, m), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
    await chmod(join(tmp, 'tmp'), 0o1777).catch(() => undefined);
    await import('node:fs/promises').then((fs) => fs.writeFile(join(tmp, '.lading-complete'), image.descriptor.digest));
    await mkdir(dirname(dest), { recursive: true });
    await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } catch (err) {
    if (err instanceof LadingError) throw err;
    throw new LadingError('IO', `cannot unpack the builder's filesystem to ${dest}: ${(err as Error).message}`, { cause: err });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dest;
}

function inside(root: string, name: string, what: string): string {
  const clean = posix.normalize(name.replace(/^\.?\/+/, '')).replace(/\/+$/, '');
  if (clean === '..' || clean.startsWith('../')) throw new InvalidContentError(`${what}: tar entry "${name}" climbs out of the root`);
  return clean === '.' ? root : join(root, clean);
}

/** Applies one layer tar over `root` (OCI image-spec "Applying Changesets"). */
async function applyLayer(stream: NodeJS.ReadableStream, root: string, what: string): Promise<void> {
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const target = inside(root, h.name, what);
      const base = posix.basename(h.name.replace(/\/+$/, ''));
      if (base === '.wh..wh..opq') {
        const dir = dirname(target);
        for (const n of await readdir(dir).catch(() => [] as string[])) await rm(join(dir, n), { recursive: true, force: true });
        entry.resume();
        continue;
      }
      if (base.startsWith('.wh.')) {
        await rm(join(dirname(target), base.slice(4)), { recursive: true, force: true });
        entry.resume();
        continue;
      }
      const existing = await lstat(target).catch(() => undefined);
      if (existing && !(existing.isDirectory() && h.type === 'directory')) await rm(target, { recursive: true, force: true });
      const mode = (h.mode ?? 0o644) & 0o7777;
      await mkdir(dirname(target), { recursive: true });
      if (h.type === 'directory') {
        await mkdir(target, { recursive: true });
        await chmod(target, mode | 0o700);
        entry.resume();
      } else if (h.type === 'file' || h.type === 'contiguous-file') {
        await pipeline(entry, createWriteStream(target, { mode: 0o600 }));
        await chmod(target, mode & 0o777);
      } else if (h.type === 'symlink') {
        await symlink(h.linkname ?? '', target);
        entry.resume();
      } else if (h.type === 'link') {
        await link(inside(root, h.linkname ?? '', what), target);
        entry.resume();
      } else {
        entry.resume();
      }
    }
  })();
  await Promise.all([pipeline(stream, extract), done]);
}
