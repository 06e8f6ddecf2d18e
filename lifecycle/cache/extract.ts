import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, link, mkdir, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { InvalidContentError } from '../../registry/oci/index.js';

/**
 * Unpacks the entries of a layer tar under `prefix` (the layer's image path without the leading `/`, e.g.
 * `layers/example_node/deps`) into `dest`, all or nothing: entries go to a sibling temp dir that replaces
 * `dest` only after the whole stream (and its diffID check) ended cleanly. Entries outside `prefix` are
 * skipped; a path that climbs out is refused. Owners are not applied (the build runs unprivileged).
 */
export async function extractLayerTar(stream: Readable, prefix: string, dest: string): Promise<void> {
  const tmp = `${dest}.restoring-${randomBytes(6).toString('hex')}`;
  const root = prefix.replace(/^\/+|\/+$/g, '');
  await mkdir(tmp, { recursive: true });
  try {
    const extract = tar.extract();
    const done = (async () => {
      for await (const entry of extract) {
        const h = entry.header;
        const name = posix.normalize(h.name.replace(/^\.?\/+/, '')).replace(/\/+$/, '');
        const rel = name === root ? '' : name.startsWith(`${root}/`) ? name.slice(root.length + 1) : undefined;
        if (rel === undefined || (rel === '' && h.type !== 'directory')) {
          entry.resume();
          continue;
        }
        if (rel.split('/').includes('..')) throw new InvalidContentError(`layer tar entry "${h.name}" climbs out of ${prefix}`);
        const target = rel === '' ? tmp : join(tmp, rel);
        const mode = (h.mode ?? 0o644) & 0o7777;
        if (h.type === 'directory') {
          await mkdir(target, { recursive: true });
          await chmod(target, mode | 0o700);
          entry.resume();
        } else if (h.type === 'file' || h.type === 'contiguous-file') {
          await mkdir(dirname(target), { recursive: true });
          await pipeline(entry, createWriteStream(target, { mode: mode | 0o600 }));
          await chmod(target, mode | 0o600);
        } else if (h.type === 'symlink') {
          await mkdir(dirname(target), { recursive: true });
          await symlink(h.linkname ?? '', target);
          entry.resume();
        } else if (h.type === 'link') {
          const from = posix.normalize((h.linkname ?? '').replace(/^\/+/, ''));
          if (!from.startsWith(`${root}/`)) throw new InvalidContentError(`layer tar hard link "${h.name}" points outside ${prefix}`);
          await mkdir(dirname(target), { recursive: true });
          await link(join(tmp, from.slice(root.length + 1)), target);
          entry.resume();
        } else {
          entry.resume();
        }
      }
    })();
    await Promise.all([pipeline(stream, extract), done]);
    await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
  } catch (err) {
    stream.destroy();
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
