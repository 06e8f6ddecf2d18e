import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Build outputs and VCS data: not inputs of a build. */
const NOT_SOURCES = new Set(['.git', 'target', 'build', '.gradle']);

/**
 * A sha256 over the project's relative paths, exec bits, contents and symlink targets, leaving out build output
 * dirs (target/, build/, .gradle/) and .git: what decides whether Maven or Gradle must run again.
 */
export async function projectChecksum(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const p = join(dir, r);
      if (e.isDirectory()) {
        if (!(rel === '' && NOT_SOURCES.has(e.name))) await walk(r);
      } else if (e.isSymbolicLink()) h.update(`L ${r}\0${await readlink(p)}\0`);
      else {
        const st = await lstat(p);
        h.update(`F ${r}\0${st.mode & 0o111 ? 'x' : '-'}\0${st.size}\0`).update(await readFile(p));
      }
    }
  };
  await walk('');
  return h.digest('hex');
}

/** Empties the app dir: the image holds the built artifact, not the source. */
export async function emptyDir(dir: string): Promise<void> {
  for (const e of await readdir(dir)) await rm(join(dir, e), { recursive: true, force: true });
}
