import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { digestOf, LadingError, type Digest } from '../../registry/oci/index.js';

/** Directories that are not source (VCS metadata): left out of the digest. */
const SKIPPED = new Set(['.git', '.hg', '.svn']);

async function fileHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * A digest of an app directory's contents, independent of where it lives, when it was touched and who owns
 * it: sha256 over sorted lines `<kind> <mode> <sha256|target> <relative path>` (kind f = file, l = symlink,
 * d = directory; mode 755 or 644 as the layer writer normalizes it). VCS directories are left out.
 */
export async function sourceDigest(dir: string): Promise<Digest> {
  const lines: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(join(dir, rel));
    } catch (err) {
      throw new LadingError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `source ${join(dir, rel)}: ${(err as Error).message}`, { cause: err });
    }
    for (const name of names) {
      if (rel === '' && SKIPPED.has(name)) continue;
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const abs = join(dir, relPath);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) lines.push(`l 777 ${await readlink(abs)} ${relPath}`);
      else if (st.isDirectory()) {
        lines.push(`d 755 - ${relPath}`);
        await walk(relPath);
      } else if (st.isFile()) lines.push(`f ${st.mode & 0o111 ? '755' : '644'} ${await fileHash(abs)} ${relPath}`);
    }
  };
  await walk('');
  const byPath = (line: string) => line.split(' ').slice(3).join(' ');
  lines.sort((a, b) => (byPath(a) < byPath(b) ? -1 : byPath(a) > byPath(b) ? 1 : 0));
  return digestOf(lines.map((l) => `${l}\n`).join(''));
}
