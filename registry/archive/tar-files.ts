import { createReadStream, createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { copyFile, lstat, mkdir, open, readdir, readlink, realpath, rm, symlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidContentError, LadingError, NotFoundError } from '../oci/index.js';

/** Fixed tar entry time (1980-01-01T00:00:01Z, as CNB uses) so the same layout gives the same archive bytes. */
const MTIME = new Date(315532801000);

function io(message: string, cause: unknown): LadingError {
  return new LadingError('IO', `${message}: ${(cause as Error).message}`, { cause });
}

/** `name` as a relative path inside the archive root, or an error for absolute and `..` paths. */
function safeRelative(name: string, archive: string): string {
  const clean = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (clean === '' || clean === '.') return '';
  if (isAbsolute(clean) || clean.split('/').includes('..')) {
    throw new InvalidContentError(`${archive}: entry "${name}" points outside the archive`);
  }
  return clean;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** A readable tar stream of `file`, gunzipped when it starts with the gzip magic (as `docker load` accepts). */
async function tarStream(file: string): Promise<Readable> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`archive ${file} does not exist`, { cause: err });
    throw io(`cannot read archive ${file}`, err);
  }
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  const stream = fh.createReadStream({ start: 0, highWaterMark: 1 << 20 });
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    stream.on('error', (err) => gunzip.destroy(err));
    return stream.pipe(gunzip);
  }
  return stream;
}

/**
 * Extracts a tar archive into `root`: directories and regular files, symbolic and hard links that stay
 * inside `root` (created after every file, so no entry can be written through a link). Devices, absolute
 * and `..` paths are refused. Errors name `archive`.
 */
export async function extractTar(archive: string, root: string): Promise<void> {
  const links: { path: string; target: string; hard: boolean }[] = [];
  const extract = tar.extract();
  const input = await tarStream(archive);
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      const { header } = entry;
      const rel = safeRelative(header.name, archive);
      const path = join(root, rel);
      switch (header.type) {
        case 'directory':
          await mkdir(path, { recursive: true });
          entry.resume();
          break;
        case 'file':
        case 'contiguous-file':
          await mkdir(dirname(path), { recursive: true });
          await rm(path, { force: true, recursive: true });
          await pipeline(entry, createWriteStream(path, { mode: 0o644 }));
          break;
        case 'symlink':
        case 'link': {
          const linkname = header.linkname ?? '';
          const hard = header.type === 'link';
          const target = hard ? join(root, safeRelative(linkname, archive)) : resolve(dirname(path), linkname);
          if (isAbsolute(linkname) || !inside(root, target)) {
            throw new InvalidContentError(`${archive}: link "${header.name}" -> "${linkname}" points outside the archive`);
          }
          links.push({ path, target: hard ? target : linkname, hard });
          entry.resume();
          break;
        }
        default:
          throw new InvalidContentError(`${archive}: entry "${header.name}" has unsupported type ${header.type ?? 'unknown'}`);
      }
    }
  } catch (err) {
    input.destroy();
    if (err instanceof LadingError) throw err;
    throw new InvalidContentError(`${archive}: not a readable tar archive (${(err as Error).message})`, { cause: err });
  }
  for (const link of links) {
    await mkdir(dirname(link.path), { recursive: true });
    await rm(link.path, { force: true, recursive: true });
    if (link.hard) await copyFile(link.target, link.path).catch((err: unknown) => {
      throw new InvalidContentError(`${archive}: hard link ${relative(root, link.path)} to a missing file`, { cause: err });
    });
    else await symlink(link.target, link.path);
  }
}

/** Resolves `rel` (a path named inside an archive) under `root`, following links only within `root`. */
export async function pathInside(root: string, rel: string, what: string): Promise<string> {
  const path = join(root, safeRelative(rel, what));
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    throw new NotFoundError(`${what}: "${rel}" is not in the archive`, { cause: err });
  }
  if (!inside(await realpath(root), real)) throw new InvalidContentError(`${what}: "${rel}" points outside the archive`);
  return real;
}

/** Regular files, directories and symlinks below `dir` in tar order: bytewise-sorted, parents first. */
async function walk(dir: string, prefix: string, skip: (name: string) => boolean): Promise<{ rel: string; path: string }[]> {
  const names = (await readdir(dir)).filter((n) => !skip(n)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const out: { rel: string; path: string }[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const rel = `${prefix}${name}`;
    out.push({ rel, path });
    const st = await lstat(path);
    if (st.isDirectory()) out.push(...(await walk(path, `${rel}/`, skip)));
  }
  return out;
}

/** A temp path beside `dest` (same filesystem, so renaming it over `dest` is atomic). */
export function tempBeside(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}-${randomBytes(5).toString('hex')}`);
}

/**
 * Writes the contents of `dir` as a tar to the new file `out` (fsynced). Entries are deterministic: sorted,
 * fixed mtime, uid/gid 0, modes 0644/0755. `skip` drops names at any depth. On failure `out` is removed.
 */
export async function packDirectory(dir: string, out: string, skip: (name: string) => boolean = () => false): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(out, { flags: 'wx', flush: true }));
  written.catch(() => {});
  try {
    for (const { rel, path } of await walk(dir, '', skip)) {
      const st = await lstat(path);
      const base = { name: rel, mtime: MTIME, uid: 0, gid: 0, uname: '', gname: '' };
      if (st.isDirectory()) {
        pack.entry({ ...base, type: 'directory', mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        pack.entry({ ...base, type: 'symlink', mode: 0o777, linkname: await readlink(path) });
      } else if (st.isFile()) {
        await new Promise<void>((done, fail) => {
          const sink = pack.entry({ ...base, type: 'file', size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644 }, (err) => (err ? fail(err) : done()));
          pipeline(createReadStream(path), sink).catch(fail);
        });
      }
    }
    pack.finalize();
    await written;
  } catch (err) {
    pack.destroy();
    await rm(out, { force: true }).catch(() => {});
    if (err instanceof LadingError) throw err;
    throw io(`cannot write archive ${out}`, err);
  }
}
