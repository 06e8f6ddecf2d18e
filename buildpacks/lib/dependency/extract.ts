import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, link, mkdir, symlink, rm } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { BuildpackError } from '../errors.js';

export interface ExtractOptions {
  /** Leading path components to drop (npm tarballs: 1, for `package/`). */
  stripComponents?: number;
}

/** The destination of an entry, or undefined if it is stripped away; refuses paths leaving `dest`. */
function target(dest: string, name: string, strip: number, archive: string): string | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length <= strip) return undefined;
  const rel = normalize(parts.slice(strip).join('/'));
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new BuildpackError('DEPENDENCY_INTEGRITY', `${archive}: entry ${name} points outside the destination`);
  return join(dest, rel);
}

/** Extracts a .tgz/.tar.gz into `dest` (files, directories, symlinks, hard links; modes kept, owners not). */
export async function extractTarGz(archive: string, dest: string, opts: ExtractOptions = {}): Promise<void> {
  const strip = opts.stripComponents ?? 0;
  await mkdir(dest, { recursive: true });
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const path = target(dest, h.name, strip, archive);
      if (!path) {
        entry.resume();
        continue;
      }
      const mode = (h.mode ?? 0o644) & 0o7777;
      if (h.type === 'directory') {
        await mkdir(path, { recursive: true });
        await chmod(path, mode | 0o700);
        entry.resume();
      } else if (h.type === 'file' || h.type === 'contiguous-file') {
        await mkdir(dirname(path), { recursive: true });
        await rm(path, { force: true });
        await pipeline(entry, createWriteStream(path, { mode }));
        await chmod(path, mode);
      } else if (h.type === 'symlink' && h.linkname) {
        await mkdir(dirname(path), { recursive: true });
        await rm(path, { force: true });
        await symlink(h.linkname, path);
        entry.resume();
      } else if (h.type === 'link' && h.linkname) {
        const from = target(dest, h.linkname, strip, archive);
        await mkdir(dirname(path), { recursive: true });
        await rm(path, { force: true });
        if (from) await link(from, path);
        entry.resume();
      } else {
        entry.resume();
      }
    }
  })();
  try {
    await Promise.all([pipeline(createReadStream(archive), createGunzip(), extract), done]);
  } catch (err) {
    if (err instanceof BuildpackError) throw err;
    throw new BuildpackError('DEPENDENCY_FETCH', `cannot extract ${archive}: ${(err as Error).message}`, { cause: err });
  }
}
