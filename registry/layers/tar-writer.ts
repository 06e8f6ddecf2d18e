import { once } from 'node:events';
import { createReadStream, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import tar from 'tar-stream';
import { ioError, type PlannedEntry } from './plan.js';
import { LayerError } from './spec.js';

/** Files up to this size are read whole, ahead of time; larger ones are streamed. */
const SMALL_FILE = 1 << 20;
/**
 * Files up to this size are read synchronously when their turn comes: open, stat, read and close through the
 * thread pool cost several times the calls themselves, and most of a node_modules or npm cache is such files.
 */
const TINY_FILE = 64 << 10;
const PREFETCH_FILES = 64;
const PREFETCH_BYTES = 32 << 20;

/**
 * The tar of `plan`, in plan order, as a readable stream. Every header is fully specified (tar-stream
 * would otherwise fill in `new Date()`); uname/gname stay empty. File contents are read ahead for small
 * files and streamed for large ones; a file whose size changed since planning fails the layer.
 */
export function packEntries(plan: readonly PlannedEntry[], mtime: Date): tar.Pack {
  const pack = tar.pack();
  writeEntries(pack, plan, mtime).catch((err: unknown) => pack.destroy(err as Error));
  return pack;
}

async function writeEntries(pack: tar.Pack, plan: readonly PlannedEntry[], mtime: Date): Promise<void> {
  const prefetch = new Prefetcher(plan);
  for (let i = 0; i < plan.length; i++) {
    const e = plan[i] as PlannedEntry;
    const name = e.type === 'directory' ? `${e.name}/` : e.name; // trailing slash, as GNU tar and Docker write
    const header: Partial<tar.Header> & { name: string } = { name, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime, size: e.size, uname: '', gname: '' };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    if (e.type !== 'file') {
      await addEntry(pack, header);
    } else if (e.content !== undefined) {
      await addEntry(pack, header, Buffer.from(e.content.buffer, e.content.byteOffset, e.content.byteLength));
    } else if (e.size <= SMALL_FILE) {
      await addEntry(pack, header, await prefetch.take(i));
    } else {
      await streamEntry(pack, header, e);
    }
  }
  pack.finalize();
}

function addEntry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, content?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (content === undefined) pack.entry(header, cb);
    else pack.entry(header, content, cb);
  });
}

async function streamEntry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, e: PlannedEntry): Promise<void> {
  let sink!: ReturnType<tar.Pack['entry']>;
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  done.catch(() => undefined);
  sink.on('error', () => undefined); // the failure reaches the reader through the pack stream
  const rs = createReadStream(e.source as string, { highWaterMark: 1 << 20 });
  let read = 0;
  try {
    for await (const chunk of rs as AsyncIterable<Buffer>) {
      read += chunk.byteLength;
      if (read > e.size) throw changed(e, read);
      if (!sink.write(chunk)) await Promise.race([once(sink, 'drain'), done]);
    }
    if (read !== e.size) throw changed(e, read);
  } catch (err) {
    rs.destroy();
    const failure = err instanceof LayerError ? err : ioError(err, `file ${e.source}`);
    sink.destroy(failure);
    throw failure;
  }
  sink.end(undefined);
  await done;
}

function changed(e: PlannedEntry, read: number): LayerError {
  return new LayerError('IO', `file ${e.source} changed while the layer was written (${e.size} bytes when listed, ${read} read)`);
}

/** Reads small files a bounded distance ahead of the tar writer so the disk and the packer overlap. */
class Prefetcher {
  readonly #plan: readonly PlannedEntry[];
  readonly #reads = new Map<number, Promise<Buffer>>();
  #next = 0;
  #bytes = 0;

  constructor(plan: readonly PlannedEntry[]) {
    this.#plan = plan;
  }

  async take(index: number): Promise<Buffer> {
    const e = this.#plan[index] as PlannedEntry;
    if (e.size <= TINY_FILE) {
      this.#fill(index + 1);
      let buf: Buffer;
      try {
        buf = readFileSync(e.source as string);
      } catch (err) {
        throw ioError(err, `file ${e.source}`);
      }
      if (buf.byteLength !== e.size) throw changed(e, buf.byteLength);
      return buf;
    }
    this.#fill(index);
    const read = this.#reads.get(index) as Promise<Buffer>;
    this.#reads.delete(index);
    const buf = await read;
    this.#bytes -= (this.#plan[index] as PlannedEntry).size;
    this.#fill(index + 1);
    return buf;
  }

  #fill(from: number): void {
    if (this.#next < from) this.#next = from;
    while (this.#next < this.#plan.length && this.#reads.size < PREFETCH_FILES && (this.#bytes < PREFETCH_BYTES || this.#reads.size === 0)) {
      const i = this.#next++;
      const e = this.#plan[i] as PlannedEntry;
      if (e.type !== 'file' || e.source === undefined || e.size > SMALL_FILE || e.size <= TINY_FILE) continue;
      this.#bytes += e.size;
      const p = readFile(e.source).then(
        (buf) => {
          if (buf.byteLength !== e.size) throw changed(e, buf.byteLength);
          return buf;
        },
        (err: unknown) => {
          throw ioError(err, `file ${e.source}`);
        },
      );
      p.catch(() => undefined); // observed by take(); unobserved if the layer fails first
      this.#reads.set(i, p);
    }
  }
}
