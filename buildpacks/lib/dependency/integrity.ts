import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { BuildpackError } from '../errors.js';

export type HashAlgorithm = 'sha1' | 'sha256' | 'sha384' | 'sha512';
const STRENGTH: Record<HashAlgorithm, number> = { sha1: 1, sha256: 2, sha384: 3, sha512: 4 };

/** One expected digest: an SRI entry (`sha512-<base64>`) or a hex sha256 from apt or a catalog. */
export interface ExpectedDigest {
  algorithm: HashAlgorithm;
  /** Hex. */
  hex: string;
}

/** The strongest entry of a Subresource Integrity string (npm's `dist.integrity`). */
export function parseIntegrity(sri: string): ExpectedDigest {
  let best: ExpectedDigest | undefined;
  for (const part of sri.trim().split(/\s+/)) {
    const m = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)(\?.*)?$/.exec(part);
    if (!m) continue;
    const algorithm = m[1] as HashAlgorithm;
    const hex = Buffer.from(m[2] as string, 'base64').toString('hex');
    if (!best || STRENGTH[algorithm] > STRENGTH[best.algorithm]) best = { algorithm, hex };
  }
  if (!best) throw new BuildpackError('DEPENDENCY_INTEGRITY', `unusable integrity string "${sri}"`);
  return best;
}

/** The SRI form of a hex digest. */
export function toIntegrity(d: ExpectedDigest): string {
  return `${d.algorithm}-${Buffer.from(d.hex, 'hex').toString('base64')}`;
}

/** Hex digests of a file for several algorithms in one read. */
export async function hashFile(file: string, algorithms: readonly HashAlgorithm[]): Promise<Record<HashAlgorithm, string>> {
  const hashes = [...new Set(algorithms)].map((a) => [a, createHash(a)] as const);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) for (const [, h] of hashes) h.update(chunk as Buffer);
  return Object.fromEntries(hashes.map(([a, h]) => [a, h.digest('hex')])) as Record<HashAlgorithm, string>;
}

/** Checks `file` against `expected`; returns its sha256 (hex). A mismatch names the file and both digests. */
export async function verifyFile(file: string, expected: ExpectedDigest, what: string): Promise<string> {
  const got = await hashFile(file, [expected.algorithm, 'sha256']);
  if (got[expected.algorithm] !== expected.hex.toLowerCase()) {
    throw new BuildpackError(
      'DEPENDENCY_INTEGRITY',
      `${what}: ${expected.algorithm} of ${file} is ${got[expected.algorithm]}, expected ${expected.hex.toLowerCase()}`,
    );
  }
  return got.sha256;
}
