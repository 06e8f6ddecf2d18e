import { parseDigest, type Digest } from './digest.js';
import { InvalidContentError } from './errors.js';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  artifactType?: string;
  platform?: Platform;
}

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (!isRecord(v)) throw new InvalidContentError(`${what}: expected an object of strings`);
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new InvalidContentError(`${what}.${k}: expected a string`);
  }
  return v as Record<string, string>;
}

export function parsePlatform(v: unknown, what: string): Platform {
  if (!isRecord(v) || typeof v.architecture !== 'string' || typeof v.os !== 'string') {
    throw new InvalidContentError(`${what}: platform needs string "architecture" and "os"`);
  }
  return v as unknown as Platform;
}

/** Validates a descriptor object; `what` locates it in messages (e.g. `index.json manifests[2]`). */
export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isRecord(v)) throw new InvalidContentError(`${what}: expected a descriptor object`);
  if (typeof v.mediaType !== 'string' || v.mediaType === '') {
    throw new InvalidContentError(`${what}: descriptor has no mediaType`);
  }
  const digest = parseDigest(v.digest, `${what}.digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new InvalidContentError(`${what}: descriptor size must be a non-negative integer`);
  }
  const d: Descriptor = { ...(v as object), mediaType: v.mediaType, digest, size: v.size } as Descriptor;
  if (v.annotations !== undefined) d.annotations = stringMap(v.annotations, `${what}.annotations`);
  if (v.platform !== undefined) d.platform = parsePlatform(v.platform, `${what}.platform`);
  if (v.artifactType !== undefined && typeof v.artifactType !== 'string') {
    throw new InvalidContentError(`${what}.artifactType: expected a string`);
  }
  return d;
}

/** The minimal descriptor (mediaType, digest, size) of some content. */
export function descriptorOf(mediaType: string, digest: Digest, size: number): Descriptor {
  return { mediaType, digest, size };
}

export function platformString(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Parses `os/arch[/variant]`. */
export function parsePlatformString(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture) throw new InvalidContentError(`platform "${s}": expected os/arch[/variant]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  if (want.variant && have.variant && want.variant !== have.variant) return false;
  return true;
}
