import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Digester, type Digest, type Layer } from '../oci/index.js';
import { ioError } from './plan.js';
import { LayerError } from './spec.js';

/** A layer whose blob is spooled to a temp file: digest, diffID and size are known when it exists. */
export class FileLayer implements Layer {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly diffId: Digest;
  readonly annotations?: Readonly<Record<string, string>>;
  /** The spooled blob (removed by dispose(), unless it is a kept blob of the blob cache). */
  readonly path: string;
  /** Size of the tar. */
  readonly uncompressedSize: number;
  readonly #gzip: boolean;
  readonly #shared: boolean;
  #disposed = false;

  constructor(init: {
    mediaType: string; digest: Digest; size: number; diffId: Digest; path: string; uncompressedSize: number;
    gzip: boolean; annotations?: Readonly<Record<string, string>> | undefined;
    /** The file belongs to a cache: dispose() leaves it. */
    shared?: boolean;
  }) {
    this.mediaType = init.mediaType;
    this.digest = init.digest;
    this.size = init.size;
    this.diffId = init.diffId;
    this.path = init.path;
    this.uncompressedSize = init.uncompressedSize;
    this.#gzip = init.gzip;
    this.#shared = init.shared ?? false;
    if (init.annotations !== undefined) this.annotations = init.annotations;
    // Own properties bound to this instance: callers copy layers with `{ ...layer, mediaType }`.
    this.compressed = async () => this.#open();
    this.uncompressed = async () => {
      const raw = this.#open();
      if (!this.#gzip) return raw;
      const gunzip = createGunzip({ chunkSize: 1 << 20 }); // see decompress() in registry/image
      raw.on('error', (err) => gunzip.destroy(err));
      return raw.pipe(gunzip);
    };
  }

  readonly compressed: () => Promise<Readable>;
  /** The tar, gunzipped on the fly for gzip layers. */
  readonly uncompressed: () => Promise<Readable>;


  get disposed(): boolean {
    return this.#disposed;
  }

  /** Removes the spooled blob; the layer cannot be read afterwards. Safe to call twice. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    if (!this.#shared) await rm(this.path, { force: true });
  }

  #open(): Readable {
    if (this.#disposed) throw new LayerError('NOT_FOUND', `layer ${this.digest} was disposed; its blob ${this.path} is gone`);
    return createReadStream(this.path, { highWaterMark: 1 << 20 });
  }
}

/** Writes a blob to a fresh temp file (0600) while hashing it; coalesces small writes. */
export class BlobSpool {
  readonly path: string;
  readonly #fh: FileHandle;
  readonly #digester = new Digester();
  #buffer: Buffer[] = [];
  #buffered = 0;

  private constructor(path: string, fh: FileHandle) {
    this.path = path;
    this.#fh = fh;
  }

  static async open(dir: string | undefined, suffix: string): Promise<BlobSpool> {
    const path = join(dir ?? tmpdir(), `lading-layer-${randomBytes(8).toString('hex')}${suffix}`);
    try {
      return new BlobSpool(path, await open(path, 'wx', 0o600));
    } catch (err) {
      throw ioError(err, `temp file ${path}`, 'create');
    }
  }

  async write(chunk: Buffer): Promise<void> {
    this.#digester.update(chunk);
    this.#buffer.push(chunk);
    this.#buffered += chunk.byteLength;
    if (this.#buffered >= 1 << 20) await this.#flush();
  }

  /** Flushes and closes the file; returns the blob's digest and size. */
  async close(): Promise<{ digest: Digest; size: number }> {
    await this.#flush();
    try {
      await this.#fh.close();
    } catch (err) {
      throw ioError(err, `temp file ${this.path}`, 'close');
    }
    return { digest: this.#digester.digest(), size: this.#digester.size };
  }

  /** Closes and removes the file after a failure. */
  async discard(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }

  async #flush(): Promise<void> {
    if (this.#buffered === 0) return;
    const data = this.#buffer.length === 1 ? (this.#buffer[0] as Buffer) : Buffer.concat(this.#buffer, this.#buffered);
    this.#buffer = [];
    this.#buffered = 0;
    try {
      let off = 0;
      while (off < data.byteLength) off += (await this.#fh.write(data, off)).bytesWritten;
    } catch (err) {
      throw new LayerError('IO', `cannot write temp file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
    }
  }
}
