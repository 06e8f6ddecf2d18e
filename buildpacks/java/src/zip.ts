import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { BuildpackError } from '../../lib/index.js';

/** One member of a ZIP (JAR/WAR) archive, from its central directory. */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** A JAR read into memory: JARs are plain ZIPs with stored (0) or deflated (8) members. */
export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  readonly #bytes: Buffer;
  readonly #file: string;

  private constructor(file: string, bytes: Buffer, entries: Map<string, ZipEntry>) {
    this.#file = file;
    this.#bytes = bytes;
    this.entries = entries;
  }

  static async open(file: string): Promise<ZipArchive> {
    const bytes = await readFile(file);
    return new ZipArchive(file, bytes, centralDirectory(file, bytes));
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The member's bytes, or undefined when there is no such member. */
  read(name: string): Buffer | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    const b = this.#bytes;
    const at = e.localHeaderOffset;
    if (b.readUInt32LE(at) !== 0x04034b50) throw invalid(this.#file, `member ${name} has no local header`);
    const start = at + 30 + b.readUInt16LE(at + 26) + b.readUInt16LE(at + 28);
    const data = b.subarray(start, start + e.compressedSize);
    if (e.method === 0) return Buffer.from(data);
    if (e.method === 8) return inflateRawSync(data);
    throw invalid(this.#file, `member ${name} uses compression method ${e.method} (JARs use stored or deflate)`);
  }
}

function invalid(file: string, why: string): BuildpackError {
  return new BuildpackError('BUILD_FAILED', `${file}: not a readable JAR/ZIP file: ${why}`);
}

function centralDirectory(file: string, b: Buffer): Map<string, ZipEntry> {
  // The end-of-central-directory record is in the last 64 KiB + 22 bytes (its comment is at most 64 KiB).
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 65_557); i--) {
    if (b.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw invalid(file, 'no end-of-central-directory record');
  const count = b.readUInt16LE(eocd + 10);
  let at = b.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff) throw invalid(file, 'ZIP64 archives are not supported');
  const entries = new Map<string, ZipEntry>();
  for (let n = 0; n < count; n++) {
    if (at + 46 > b.length || b.readUInt32LE(at) !== 0x02014b50) throw invalid(file, `central directory entry ${n} is damaged`);
    const nameLength = b.readUInt16LE(at + 28);
    const name = b.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    entries.set(name, {
      name,
      method: b.readUInt16LE(at + 10),
      compressedSize: b.readUInt32LE(at + 20),
      size: b.readUInt32LE(at + 24),
      localHeaderOffset: b.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + b.readUInt16LE(at + 30) + b.readUInt16LE(at + 32);
  }
  return entries;
}
