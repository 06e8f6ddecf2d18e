import zlib from 'node:zlib';
import type { BlockDeflater } from './deflate-engine.js';

/** Input bytes per independently compressed block (pigz's scheme with larger blocks: <0.1% size cost). */
export const GZIP_BLOCK_SIZE = 1 << 20;
/** Each block is primed with the previous block's last 32 KiB, deflate's whole window. */
export const DICTIONARY_SIZE = 32 * 1024;

/** Fixed gzip header: no name, mtime 0, XFL 0 (level 6), OS 3 (Unix). */
export const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);

/**
 * One gzip member written as a sequence of raw-deflate blocks compressed in parallel and emitted in order.
 * The output depends only on the input bytes (fixed block size, fixed flush points), so it is the same on
 * one core or many. Any gunzip reads it as an ordinary single-member gzip stream.
 */
export class GzipBlockWriter {
  readonly #deflater: BlockDeflater;
  readonly #emit: (chunk: Buffer) => Promise<void>;
  readonly #maxInFlight: number;
  readonly #pending: Array<Promise<Buffer>> = [];
  #block = Buffer.allocUnsafe(GZIP_BLOCK_SIZE);
  #fill = 0;
  #tail: Buffer | undefined;
  #crc = 0;
  #size = 0;
  #headerSent = false;

  constructor(deflater: BlockDeflater, emit: (chunk: Buffer) => Promise<void>) {
    this.#deflater = deflater;
    this.#emit = emit;
    this.#maxInFlight = deflater.parallelism + 1;
  }

  async write(chunk: Buffer): Promise<void> {
    this.#crc = zlib.crc32(chunk, this.#crc);
    this.#size += chunk.byteLength;
    let off = 0;
    while (off < chunk.byteLength) {
      // A full block is only submitted once more data arrives, so the final block is always `last`.
      if (this.#fill === GZIP_BLOCK_SIZE) await this.#submit(false);
      const n = Math.min(GZIP_BLOCK_SIZE - this.#fill, chunk.byteLength - off);
      chunk.copy(this.#block, this.#fill, off, off + n);
      this.#fill += n;
      off += n;
    }
  }

  /** Compresses what is left, writes the trailer (CRC-32 and size mod 2^32, little-endian). */
  async end(): Promise<void> {
    await this.#submit(true);
    while (this.#pending.length > 0) await this.#emitOldest();
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.#crc >>> 0, 0);
    trailer.writeUInt32LE(this.#size % 2 ** 32, 4);
    await this.#send(trailer);
  }

  async #submit(last: boolean): Promise<void> {
    const block = this.#block.subarray(0, this.#fill);
    const job = this.#deflater.deflate(block, this.#tail, last);
    job.catch(() => undefined); // observed in #emitOldest; this keeps an early failure from going unhandled
    this.#pending.push(job);
    this.#tail = block.byteLength >= DICTIONARY_SIZE ? block.subarray(block.byteLength - DICTIONARY_SIZE) : undefined;
    this.#block = Buffer.allocUnsafe(GZIP_BLOCK_SIZE);
    this.#fill = 0;
    while (this.#pending.length >= this.#maxInFlight) await this.#emitOldest();
  }

  async #emitOldest(): Promise<void> {
    const out = await (this.#pending[0] as Promise<Buffer>);
    this.#pending.shift();
    await this.#send(out);
  }

  async #send(chunk: Buffer): Promise<void> {
    if (!this.#headerSent) {
      this.#headerSent = true;
      await this.#emit(GZIP_HEADER);
    }
    await this.#emit(chunk);
  }
}
