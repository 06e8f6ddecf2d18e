import {
  LadingError, MediaType, hexOf, parseManifest, referrerArtifactType, stableJsonBytes,
  type Descriptor, type Digest, type ParsedManifest,
} from '../oci/index.js';
import { readBody } from './auth.js';
import type { CallContext, RegistryClient } from './client.js';
import { fetchManifest, putManifestBytes } from './manifests.js';
import { repositoryScope } from './scope.js';

const MAX_PAGES = 100;
const MAX_INDEX_BYTES = 4 << 20;

/** The tag of the referrers fallback index for a subject (distribution-spec §2.4): `sha256-<hex>`. */
export function fallbackTag(subject: Digest): string {
  return `sha256-${hexOf(subject)}`;
}

/** The descriptor a referrers listing holds for a manifest: artifactType and annotations copied. */
export function referrerDescriptor(parsed: ParsedManifest, desc: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  const artifactType = referrerArtifactType(parsed);
  if (artifactType) out.artifactType = artifactType;
  if (parsed.manifest.annotations && Object.keys(parsed.manifest.annotations).length > 0) out.annotations = { ...parsed.manifest.annotations };
  return out;
}

function isOciIndexType(contentType: string | string[] | undefined): boolean {
  const v = Array.isArray(contentType) ? contentType[0] : contentType;
  return v?.split(';')[0]?.trim() === MediaType.OciIndex;
}

function nextLink(link: string | string[] | undefined): string | undefined {
  const values = Array.isArray(link) ? link : link ? [link] : [];
  for (const v of values) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(v);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Lists referrers through the referrers API. Returns undefined when the registry does not support it:
 * only a 200 whose Content-Type is the OCI index type counts as support.
 */
export async function referrersFromApi(client: RegistryClient, ctx: CallContext, repository: string, subject: Digest): Promise<Descriptor[] | undefined> {
  const out: Descriptor[] = [];
  let url: string | undefined = `/v2/${repository}/referrers/${subject}`;
  for (let page = 0; url && page < MAX_PAGES; page++) {
    const res = await client.send(
      { method: 'GET', url, repository, scopes: [repositoryScope(repository, ['pull'])], headers: { accept: MediaType.OciIndex } },
      ctx,
    );
    if (res.statusCode !== 200 || !isOciIndexType(res.headers['content-type'])) {
      await res.body.dump();
      if (page === 0) return undefined;
      throw new LadingError('REGISTRY', `${client.registry}/${repository}: referrers page ${page + 1} of ${subject} answered HTTP ${res.statusCode}`);
    }
    const { bytes, truncated } = await readBody(res, MAX_INDEX_BYTES);
    if (truncated) throw new LadingError('CONTENT_INVALID', `${client.registry}/${repository}: referrers index of ${subject} is too large`);
    const parsed = parseManifest(bytes, `${client.registry}/${repository} referrers of ${subject}`, MediaType.OciIndex);
    if (parsed.kind === 'index') out.push(...parsed.manifest.manifests);
    const next = nextLink(res.headers.link);
    url = next ? new URL(next, new URL(url, client.baseUrl)).toString() : undefined;
  }
  return out;
}

/** Referrers from the fallback tag; none when the tag is missing or is not an index. */
export async function referrersFromFallback(client: RegistryClient, ctx: CallContext, repository: string, subject: Digest): Promise<Descriptor[]> {
  try {
    const m = await fetchManifest(client, ctx, repository, fallbackTag(subject), MediaType.OciIndex);
    return m.parsed.kind === 'index' ? m.parsed.manifest.manifests : [];
  } catch (err) {
    if (err instanceof LadingError && (err.code === 'NOT_FOUND' || err.code === 'CONTENT_INVALID' || err.code === 'UNSUPPORTED')) return [];
    throw err;
  }
}

const support = new WeakMap<RegistryClient, Map<string, Promise<boolean>>>();

/** Whether the repository's registry serves the referrers API (probed once per client and repository). */
export function supportsReferrers(client: RegistryClient, ctx: CallContext, repository: string, subject: Digest): Promise<boolean> {
  let perRepo = support.get(client);
  if (!perRepo) support.set(client, (perRepo = new Map()));
  let p = perRepo.get(repository);
  if (!p) {
    p = referrersFromApi(client, ctx, repository, subject).then((r) => r !== undefined);
    perRepo.set(repository, p);
    p.catch(() => perRepo.delete(repository));
  }
  return p;
}

/** Serializes read-modify-write of one fallback tag within this process (2.8 ignores If-Match). */
const locks = new Map<string, Promise<unknown>>();

async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(fn);
  locks.set(key, run);
  try {
    return await run;
  } finally {
    if (locks.get(key) === run) locks.delete(key);
  }
}

/**
 * Adds descriptors to the `sha256-<hex>` fallback index of `subject`: existing entries kept, duplicates
 * skipped, entries sorted by digest so the index bytes are reproducible. Returns the entry count, or
 * undefined when the tag holds something other than an index (left untouched).
 */
export async function addToFallbackIndex(
  client: RegistryClient, ctx: CallContext, repository: string, subject: Digest, add: readonly Descriptor[],
): Promise<number | undefined> {
  const tag = fallbackTag(subject);
  return withLock(`${client.baseUrl}/${repository}:${tag}`, async () => {
    let existing: Descriptor[] = [];
    try {
      const m = await fetchManifest(client, ctx, repository, tag, MediaType.OciIndex);
      if (m.parsed.kind !== 'index') return undefined;
      existing = m.parsed.manifest.manifests;
    } catch (err) {
      if (!(err instanceof LadingError) || err.code !== 'NOT_FOUND') throw err;
    }
    const byDigest = new Map(existing.map((d) => [d.digest, d] as const));
    let changed = false;
    for (const d of add) {
      if (!byDigest.has(d.digest)) {
        byDigest.set(d.digest, d);
        changed = true;
      }
    }
    if (!changed) return byDigest.size;
    const manifests = [...byDigest.values()].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    const bytes = stableJsonBytes({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests });
    await putManifestBytes(client, ctx, repository, tag, bytes, MediaType.OciIndex);
    return manifests.length;
  });
}
