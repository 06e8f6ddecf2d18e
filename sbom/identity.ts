import { createHash } from 'node:crypto';
import { PackageURL } from 'packageurl-js';
import type { SbomSubject } from './model.js';

/** RFC 4122 URL namespace, for name-based (v5) UUIDs. */
const URL_NAMESPACE = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');

/** A UUID v5 of `name`: the same input gives the same UUID on every machine (no random serials). */
export function uuidV5(name: string): string {
  const h = createHash('sha1').update(URL_NAMESPACE).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** `YYYY-MM-DDThh:mm:ssZ` (SPDX's format; also valid CycloneDX date-time). */
export function documentTime(created: string): string {
  const d = new Date(created);
  if (Number.isNaN(d.getTime())) return '1980-01-01T00:00:01Z';
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `registry/path/name` of a reference, without tag or digest; and the tag if there is one. */
export function splitImageName(name: string): { repository: string; tag?: string } {
  const noDigest = name.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  if (colon > slash) return { repository: noDigest.slice(0, colon), tag: noDigest.slice(colon + 1) };
  return { repository: noDigest };
}

/** `pkg:oci/<name>@sha256%3A…?repository_url=…&tag=…` for the image (purl-spec oci type). */
export function imagePurl(subject: SbomSubject): string {
  const { repository, tag } = splitImageName(subject.name.replace(/^[a-z-]+:(?!\d)/, ''));
  const last = repository.slice(repository.lastIndexOf('/') + 1).toLowerCase() || 'image';
  const qualifiers: Record<string, string> = {};
  if (repository.includes('/')) qualifiers.repository_url = repository.toLowerCase();
  if (subject.platform) qualifiers.arch = subject.platform.split('/')[1] ?? subject.platform;
  if (tag) qualifiers.tag = tag;
  return new PackageURL('oci', undefined, last, subject.digest, Object.keys(qualifiers).length ? qualifiers : undefined, undefined).toString();
}
