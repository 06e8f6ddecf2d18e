import { createReadStream, createWriteStream, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { extractTarGz } from './dependency/extract.js';

/** Files up to this size go into the archive from memory; larger ones are streamed. */
const SMALL_FILE = 1 << 20;

/**
 * A directory that a cache layer keeps as one archive, `<layer>/<name>.tar.gz`, instead of as a tree: for a
 * tool's cache of many small entries that most builds never read (npm's cache for an Express app is ~1,000
 * entries in ~600 directories). The lifecycle looks at every entry of a cache layer before restoring it and
 * again after the build, to tell whether it changed, and on a rebuild that installs nothing those two walks of
 * a tree nobody reads were a tenth of the build. `open()` unpacks the archive at `<layer>/<name>` for the tool;
 * `settle()` at the end of the build packs it again and leaves the layer holding the archive alone. A build
 * that never opens it leaves the layer as it was restored, so the cache keeps its blob.
 *
 * The archive is gzip level 1: what such caches hold is mostly compressed already (npm's are package tarballs).
 * It is never part of an image, so its bytes need not be reproducible.
 */
export class ArchivedDir {
  readonly dir: string;
  readonly archive: string;
  #opened = false;

  constructor(readonly layerPath: string, readonly name: string, private readonly onWarning?: (message: string) => void) {
    this.dir = join(layerPath, name);
    this.archive = join(layerPath, `${name}.tar.gz`);
  }

  /**
   * The unpacked directory, unpacked on the first call. A damaged archive gives an empty directory (a cache
   * may be lost, never trusted half-read), with a warning. A layer from before the archive (the tool's files
   * at the top of the layer) has those moved in, so they are kept.
   */
  async open(): Promise<string> {
    if (this.#opened) return this.dir;
    const others = await this.#others();
    await rm(this.dir, { recursive: true, force: true });
    if (others.includes(`${this.name}.tar.gz`)) {
      try {
        await extractTarGz(this.archive, this.dir);
      } catch (err) {
        this.onWarning?.(`${this.archive}: ${(err as Error).message}; starting with an empty cache`);
        await rm(this.dir, { recursive: true, force: true });
        await mkdir(this.dir, { recursive: true });
      }
    } else {
      await mkdir(this.dir, { recursive: true });
      for (const n of others) await rename(join(this.layerPath, n), join(this.dir, n));
    }
    this.#opened = true;
    return this.dir;
  }

  /**
   * At the end of the build: an opened directory is packed into the archive (written aside, then renamed over
   * it) and removed. Unopened, anything else in the layer goes: an older layout is packed once (see open), and
   * what a tool wrote to the directory without it being opened (npm's logs, say) is dropped.
   */
  async settle(): Promise<void> {
    if (!this.#opened) {
      await rm(this.dir, { recursive: true, force: true });
      if ((await this.#others()).some((n) => n !== `${this.name}.tar.gz`)) await this.open();
      else return;
    }
    const tmp = `${this.archive}.partial`;
    await packTree(this.dir, tmp);
    await rename(tmp, this.archive);
    await rm(this.dir, { recursive: true, force: true });
    this.#opened = false;
  }

  /** The layer's entries besides the unpacked directory. */
  async #others(): Promise<string[]> {
    const names = await readdir(this.layerPath).catch(() => [] as string[]);
    return names.filter((n) => n !== this.name).sort();
  }
}

/** Writes `dir`'s files, directories and symlinks (sorted, modes kept) as a gzip'd tar at `file`. */
async function packTree(dir: string, file: string): Promise<void> {
  // tar-stream on first use, as in extract.ts; CommonJS in a split bundle: `default`
  const tar = await import('tar-stream');
  const pack = (tar.default ?? tar).pack();
  const written = pipeline(pack, createGzip({ level: 1 }), createWriteStream(file));
  const add = async (rel: string): Promise<void> => {
    const path = rel === '' ? dir : join(dir, rel);
    const st = lstatSync(path);
    const header = { name: rel, mode: st.mode & 0o7777, mtime: st.mtime };
    if (st.isDirectory()) {
      if (rel !== '') pack.entry({ ...header, type: 'directory' });
      for (const n of readdirSync(path).sort()) await add(rel === '' ? n : `${rel}/${n}`);
    } else if (st.isSymbolicLink()) {
      pack.entry({ ...header, type: 'symlink', linkname: readlinkSync(path) });
    } else if (st.isFile()) {
      if (st.size <= SMALL_FILE) {
        pack.entry({ ...header, type: 'file' }, readFileSync(path));
      } else {
        await pipeline(createReadStream(path), pack.entry({ ...header, type: 'file', size: st.size }));
      }
    }
  };
  try {
    await add('');
    pack.finalize();
    await written;
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => undefined);
    await rm(file, { force: true });
    throw err;
  }
}
