import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { Deflate } from 'pako';
import { keepFile } from '../keep-file.js';
import { LayerError } from './spec.js';

/**
 * Raw-deflate engines for the block gzip writer. Every block is compressed independently (primed with the
 * previous 32 KiB as dictionary), so the bytes depend only on the data, never on thread count or timing.
 *
 * Level 6, default strategy, windowBits 15, memLevel 8: zlib's defaults, what `gzip`, Docker and
 * containerd write. On JavaScript sources it is 20% smaller than level 1 (for 2.7× the CPU, paid once
 * per push); level 9 saves only 0.5% more at twice the CPU again.
 *
 * Node's bundled zlib (Chromium's fork) picks its match-finder hash at run time: CRC32C where the CPU
 * has SSE4.2+PCLMUL (x86) or CRC (arm64), the classic Rabin-Karp hash elsewhere, and distro builds of
 * Node link the system zlib. Its bytes are therefore not a property of the Node version alone. pako 3
 * (pure JS) implements the CRC32C variant portably, so it defines the bytes we write; Node's zlib is only
 * used where a probe shows it produces exactly those bytes.
 */
export interface BlockDeflater {
  readonly name: 'native' | 'portable';
  /** Blocks worth keeping in flight to occupy every core. */
  readonly parallelism: number;
  /** Raw deflate of `block` primed with `dictionary`; ends with a sync flush, or finishes the stream if `last`. */
  deflate(block: Buffer, dictionary: Buffer | undefined, last: boolean): Promise<Buffer>;
}

export const DEFLATE_LEVEL = 6;
const MEM_LEVEL = 8;
const WINDOW_BITS = 15;

const nativeDeflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

export const nativeDeflater: BlockDeflater = {
  name: 'native',
  parallelism: Math.max(2, availableParallelism()),
  deflate(block, dictionary, last) {
    const options: zlib.ZlibOptions = {
      level: DEFLATE_LEVEL,
      memLevel: MEM_LEVEL,
      windowBits: WINDOW_BITS,
      strategy: zlib.constants.Z_DEFAULT_STRATEGY,
      finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    };
    if (dictionary !== undefined) options.dictionary = dictionary;
    return nativeDeflateRaw(block, options);
  },
};

/** pako on the calling thread: the reference the probe compares against. */
export function portableDeflateSync(block: Uint8Array, dictionary: Uint8Array | undefined, last: boolean): Buffer {
  const chunks: Uint8Array[] = [];
  const d = new Deflate({ level: DEFLATE_LEVEL, memLevel: MEM_LEVEL, windowBits: WINDOW_BITS, raw: true, ...(dictionary ? { dictionary } : {}) });
  d.onData = (chunk) => chunks.push(chunk);
  d.push(block, last ? 4 : 2);
  if (d.err !== 0) throw new LayerError('INTERNAL', `pako deflate failed: ${d.msg}`);
  return Buffer.concat(chunks);
}

// The worker runs the same calls as portableDeflateSync, on pako's CommonJS build.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Deflate } = require(workerData.pako);
parentPort.on('message', ({ id, block, dictionary, last, level, memLevel, windowBits }) => {
  try {
    const chunks = [];
    const d = new Deflate({ level, memLevel, windowBits, raw: true, ...(dictionary ? { dictionary } : {}) });
    d.onData = (c) => chunks.push(c);
    d.push(block, last ? 4 : 2);
    if (d.err !== 0) throw new Error(d.msg);
    const out = Buffer.concat(chunks);
    const copy = new Uint8Array(out.byteLength);
    copy.set(out);
    parentPort.postMessage({ id, out: copy }, [copy.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
  }
});
`;

interface Job {
  id: number;
  block: Buffer;
  dictionary: Buffer | undefined;
  last: boolean;
  resolve: (out: Buffer) => void;
  reject: (err: Error) => void;
}

/** pako in worker threads; workers are unref'd while idle so they never keep the process alive. */
class PortablePool implements BlockDeflater {
  readonly name = 'portable' as const;
  readonly parallelism: number;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Job>();
  readonly #queue: Job[] = [];
  #workers = 0;
  #nextId = 0;

  constructor(size: number) {
    this.parallelism = size;
  }

  deflate(block: Buffer, dictionary: Buffer | undefined, last: boolean): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, block, dictionary, last, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let worker = this.#idle.pop();
      if (worker === undefined) {
        if (this.#workers >= this.parallelism) return;
        worker = this.#spawn();
      }
      const job = this.#queue.shift() as Job;
      this.#busy.set(worker, job);
      worker.ref();
      worker.postMessage({
        id: job.id, block: job.block, dictionary: job.dictionary, last: job.last,
        level: DEFLATE_LEVEL, memLevel: MEM_LEVEL, windowBits: WINDOW_BITS,
      });
    }
  }

  #spawn(): Worker {
    const pako = createRequire(import.meta.url).resolve('pako');
    // execArgv [] so a parent's --input-type=module cannot turn the CommonJS source into ESM.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { pako } });
    this.#workers++;
    worker.on('message', (msg: { id: number; out?: Uint8Array; error?: string }) => {
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      worker.unref();
      this.#idle.push(worker);
      if (job !== undefined) {
        if (msg.out) job.resolve(Buffer.from(msg.out.buffer, msg.out.byteOffset, msg.out.byteLength));
        else job.reject(new LayerError('INTERNAL', `portable deflate worker failed: ${msg.error ?? 'unknown error'}`));
      }
      this.#pump();
    });
    worker.on('error', (err) => {
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      this.#workers--;
      job?.reject(new LayerError('INTERNAL', `portable deflate worker crashed: ${err.message}`, err));
      this.#pump();
    });
    return worker;
  }
}

let pool: PortablePool | undefined;
export function portableDeflater(): BlockDeflater {
  pool ??= new PortablePool(Math.max(1, availableParallelism()));
  return pool;
}

/** Deterministic probe data: prose-like text, JSON-like lines, random bytes, runs and short periods. */
export function probeData(size = 256 * 1024): Buffer {
  const out = Buffer.alloc(size);
  let x = 0x9e3779b9;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const words = ['layer', 'image', 'build', 'pack', 'the', 'of', 'node_modules', 'index', 'require', 'export', '{', '}', '\n'];
  let i = 0;
  while (i < size) {
    const kind = next() % 5;
    const end = Math.min(size, i + 512 + (next() % 4096));
    if (kind === 0) while (i < end) out[i++] = next() & 0xff;
    else if (kind === 1) i = end; // zeros
    else if (kind === 2) for (; i < end; i++) out[i] = 'abcabd'.charCodeAt(i % 6);
    else {
      while (i < end) {
        const w = `${words[next() % words.length] as string} `;
        i += out.write(w, i, Math.min(w.length, end - i), 'latin1');
      }
    }
  }
  return out;
}

/** True if Node's zlib writes the same bytes as pako for the probe blocks (with and without dictionary). */
export async function nativeMatchesPortable(data = probeData()): Promise<boolean> {
  const half = data.length >> 1;
  const blocks: Array<[Buffer, Buffer | undefined, boolean]> = [
    [data.subarray(0, half), undefined, false],
    [data.subarray(half), data.subarray(half - 32768, half), true],
  ];
  for (const [block, dict, last] of blocks) {
    const native = await nativeDeflater.deflate(block, dict, last);
    if (!native.equals(portableDeflateSync(block, dict, last))) return false;
  }
  return true;
}

let autoChoice: Promise<BlockDeflater> | undefined;
let probeCacheDir: string | undefined;

/**
 * A directory where `deflaterFor('auto')` keeps its probe's answer between processes (the probe costs
 * ~100 ms of CPU on every run otherwise), keyed by everything the answer depends on: see probeKey.
 * Undefined: probe in every process.
 */
export function setDeflateProbeCache(dir: string | undefined): void {
  probeCacheDir = dir;
  autoChoice = undefined;
}

/**
 * What decides whether Node's zlib writes pako's bytes: Node's version and binary (size, mtime), its zlib's
 * version, the CPU's architecture and feature flags (the match-finder hash is chosen from them) and pako's
 * code. Undefined when Node links the system's zlib, which can change under the same Node: always probe then.
 */
export async function probeKey(): Promise<string | undefined> {
  const variables = process.config.variables as unknown as Record<string, unknown>;
  if (variables['node_shared_zlib'] === true || variables['node_shared_zlib'] === 'true') return undefined;
  try {
    const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
    const flags = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? '';
    const exe = await stat(process.execPath);
    const pako = await stat(createRequire(import.meta.url).resolve('pako'));
    const parts = {
      node: process.version, zlib: process.versions.zlib, arch: process.arch, platform: process.platform, flags,
      exe: [exe.size, exe.mtimeMs], pako: [pako.size, pako.mtimeMs],
    };
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  } catch {
    return undefined;
  }
}

async function probeCached(dir: string | undefined): Promise<boolean> {
  const key = dir === undefined ? undefined : await probeKey();
  if (dir === undefined || key === undefined) return nativeMatchesPortable();
  const file = join(dir, `deflate-probe-${key.slice(0, 32)}.json`);
  try {
    const known = JSON.parse(await readFile(file, 'utf8')) as { key?: unknown; native?: unknown };
    if (known.key === key && typeof known.native === 'boolean') return known.native;
  } catch {
    // none yet, or unreadable: probe
  }
  const native = await nativeMatchesPortable();
  // a read-only cache: probe again next time
  await keepFile(file, `${JSON.stringify({ key, native })}\n`);
  return native;
}

/** The engine for `mode`; `auto` probes Node's zlib once per process (or reads the answer setDeflateProbeCache keeps). */
export function deflaterFor(mode: 'auto' | 'portable'): Promise<BlockDeflater> {
  if (mode === 'portable') return Promise.resolve(portableDeflater());
  autoChoice ??= probeCached(probeCacheDir).then((same) => (same ? nativeDeflater : portableDeflater()));
  return autoChoice;
}
