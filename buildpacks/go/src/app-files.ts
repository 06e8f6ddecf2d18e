import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';

/** Every file under `dir` as a sorted list of slash-separated relative paths (symlinks as files; `.git` left out). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (r !== '.git') await walk(r);
      } else out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

/**
 * A sha256 over the app's paths, exec bits and contents (and symlink targets): what `go build` reads
 * (sources, go.mod, go.sum, vendor/, embedded files). Timestamps and the app's location do not count.
 */
export async function sourceChecksum(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const rel of await listFiles(dir)) {
    const p = join(dir, rel);
    const st = await lstat(p);
    if (st.isSymbolicLink()) h.update(`L ${rel}\0${await readlink(p)}\0`);
    else h.update(`F ${rel}\0${st.mode & 0o111 ? 'x' : '-'}\0${st.size}\0`).update(await readFile(p));
  }
  return h.digest('hex');
}

/** A `BP_KEEP_FILES` glob as a RegExp over slash-separated relative paths: `*` and `?` stay inside a segment, `**` crosses. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  const g = posix.normalize(glob.trim()).replace(/^\.\//, '');
  for (let i = 0; i < g.length; i++) {
    const c = g[i] as string;
    if (c === '*' && g[i + 1] === '*') {
      re += g[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += g[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A matching directory keeps everything below it.
  return new RegExp(`^${re}(?:/.*)?$`);
}

/**
 * Empties the app dir except the files matching `keep` (BP_KEEP_FILES, colon-separated globs), so the image
 * holds the binaries and those files, not the source. Returns the kept paths.
 */
export async function clearAppDir(dir: string, keep: string | undefined): Promise<string[]> {
  const globs = (keep ?? '').split(':').filter((s) => s.trim() !== '').map(globRegExp);
  const files = await listFiles(dir);
  const kept = files.filter((f) => globs.some((g) => g.test(f)));
  const keptDirs = new Set(kept.flatMap((f) => f.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))));
  const prune = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && keptDirs.has(r)) await prune(r);
      else if (!kept.includes(r)) await rm(join(dir, r), { recursive: true, force: true });
    }
  };
  await prune('');
  return kept;
}
