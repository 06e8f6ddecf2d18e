import { createHash, type Hash } from 'node:crypto';
import { InvalidContentError } from './errors.js';

/** A content address. Always `sha256:<64 lowercase hex>`; branded so plain strings cannot slip in. */
export type Digest = `sha256:${string}` & { readonly __brand: 'Digest' };

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/** Parses a digest string; `what` names the field or file for the error message. */
export function parseDigest(value: unknown, what = 'digest'): Digest {
  if (isDigest(value)) return value;
  if (typeof value === 'string' && /^[a-z0-9]+([+._-][a-z0-9]+)*:/.test(value) && !value.startsWith('sha256:')) {
    throw new InvalidContentError(`${what}: unsupported digest algorithm in "${truncate(value)}" (only sha256 is supported)`);
  }
  throw new InvalidContentError(`${what}: "${truncate(String(value))}" is not a sha256 digest`);
}

export function digestOf(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** The hex part of a digest, as used in blob paths. */
export function hexOf(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

/** Incremental hashing that also counts bytes, for streams. */
export class Digester {
  readonly #hash: Hash = createHash('sha256');
  #size = 0;
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
  }
  get size(): number {
    return this.#size;
  }
  digest(): Digest {
    return `sha256:${this.#hash.digest('hex')}` as Digest;
  }
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
