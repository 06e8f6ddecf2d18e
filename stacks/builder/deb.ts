import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { StackError } from './stack-file.js';

/** One entry of a package's data, at its final image path (after the merged-/usr move). */
export type DebEntry =
  | { type: 'dir'; path: string; mode: number; uid: number; gid: number }
  | { type: 'file'; path: string; mode: number; uid: number; gid: number; source: string; md5: string }
  | { type: 'symlink'; path: string; target: string; uid: number; gid: number };

export interface ExtractedDeb {
  name: string;
  /** The package's `control` file, as shipped. */
  control: string;
  entries: DebEntry[];
}

/** Top-level directories Debian merges into /usr (`/bin` → `/usr/bin`, …). */
export const MERGED_DIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'] as const;

/** `/bin/sh` → `/usr/bin/sh`; other paths unchanged. */
export function usrMerged(path: string): string {
  const top = path.split('/')[1] ?? '';
  return (MERGED_DIRS as readonly string[]).includes(top) ? `/usr${path}` : path;
}

/** Documentation that images leave out: man/info pages, translations, lintian data, docs other than copyright. */
export function isDroppedDoc(path: string): boolean {
  if (/^\/usr\/share\/(man|info|lintian|locale)(\/|$)/.test(path)) return true;
  const doc = /^\/usr\/share\/doc\/[^/]+\/(.+)$/.exec(path);
  return doc !== null && doc[1] !== 'copyright';
}

function dpkgDeb(args: string[], deb: string): { stream: Readable; done: Promise<void> } {
  const child = spawn('dpkg-deb', [...args, deb], { stdio: ['ignore', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new StackError('NOT_FOUND', `cannot run dpkg-deb: ${e.message} (install dpkg)`, { cause: e })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new StackError('CONTENT_INVALID', `dpkg-deb ${args[0]} ${deb} failed: ${Buffer.concat(err).toString().trim().split('\n')[0]}`));
    });
  });
  return { stream: child.stdout, done };
}

/** Runs `each` over the entries of the tar that `dpkg-deb <mode>` writes. */
async function readTar(mode: string, deb: string, each: (header: tar.Header, body: Readable) => Promise<void>): Promise<void> {
  const { stream, done } = dpkgDeb([mode], deb);
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    each(header, body as unknown as Readable).then(() => next(), (err: unknown) => next(err as Error));
  });
  await Promise.all([pipeline(stream, extract), done]);
}

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Reads a .deb with dpkg-deb (no root, no maintainer scripts): its control file, and its data with file
 * bodies written under `stageDir`. Paths move into /usr (merged /usr), relative links that moved are
 * re-pointed, hard links become copies of their target's content, dropped docs are left out.
 */
export async function extractDeb(deb: string, stageDir: string): Promise<ExtractedDeb> {
  let control = '';
  await readTar('--ctrl-tarfile', deb, async (h, body) => {
    const data = await drain(body);
    if (h.name.replace(/^\.\//, '') === 'control') control = data.toString('utf8');
  });
  const name = /^Package:\s*(\S+)/m.exec(control)?.[1];
  if (!name) throw new StackError('CONTENT_INVALID', `${deb}: its control file has no Package field`);
  await mkdir(stageDir, { recursive: true });
  const entries: DebEntry[] = [];
  const files = new Map<string, { source: string; md5: string; mode: number }>();
  let n = 0;
  await readTar('--fsys-tarfile', deb, async (h, body) => {
    const original = posix.normalize(`/${h.name.replace(/^\.\//, '')}`).replace(/\/$/, '');
    if (original === '' || original === '/' || original.split('/').includes('..')) return void (await drain(body));
    const path = usrMerged(original);
    const owner = { uid: h.uid ?? 0, gid: h.gid ?? 0 };
    const mode = (h.mode ?? 0o644) & 0o7777;
    if (h.type === 'directory') {
      entries.push({ type: 'dir', path, mode, ...owner });
    } else if (h.type === 'file' || h.type === 'contiguous-file') {
      const source = join(stageDir, String(n++));
      const md5 = createHash('md5');
      body.on('data', (c: Buffer) => md5.update(c));
      await pipeline(body, createWriteStream(source));
      const f = { source, md5: md5.digest('hex'), mode };
      files.set(original, f);
      if (!isDroppedDoc(path)) entries.push({ type: 'file', path, ...f, ...owner });
      return;
    } else if (h.type === 'symlink') {
      let target = h.linkname ?? '';
      if (path !== original && !target.startsWith('/')) {
        // The link moved into /usr: point it at what it named before, seen through the merge.
        const resolved = usrMerged(posix.normalize(posix.join(posix.dirname(original), target)));
        target = posix.relative(posix.dirname(path), resolved) || '.';
      }
      if (!isDroppedDoc(path)) entries.push({ type: 'symlink', path, target, ...owner });
    } else if (h.type === 'link') {
      const target = posix.normalize(`/${(h.linkname ?? '').replace(/^\.\//, '')}`);
      const f = files.get(target);
      if (!f) throw new StackError('CONTENT_INVALID', `${deb}: hard link ${original} names ${target}, which comes later or not at all`);
      if (!isDroppedDoc(path)) entries.push({ type: 'file', path, ...f, ...owner });
    } else {
      throw new StackError('UNSUPPORTED', `${deb}: ${original} is a ${h.type}, which a stack image cannot hold`);
    }
    await drain(body);
  });
  return { name, control, entries };
}
