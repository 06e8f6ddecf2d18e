import type { Readable } from 'node:stream';
import type { ContentSource, Descriptor, Digest, FetchedManifest, RepositoryLocation } from '../oci/index.js';
import { familiarName, type RegistryReference } from '../reference.js';
import { callContext, registryClient, type CallContext, type RegistryClient, type RegistryOptions } from './client.js';
import { fetchManifest } from './manifests.js';
import { referrersFromApi, referrersFromFallback } from './referrers.js';
import { readBlob } from './blob-reader.js';

const CACHED_MANIFESTS = 64;

/** Reads images from a registry repository: manifests verified by digest, blobs as they are stored. */
class RegistrySource implements ContentSource {
  readonly location: string;
  readonly repository: RepositoryLocation;
  readonly #cache = new Map<Digest, FetchedManifest>();

  constructor(
    private readonly ref: RegistryReference,
    private readonly client: RegistryClient,
    private readonly ctx: CallContext,
  ) {
    this.location = `docker://${familiarName(ref)}`;
    this.repository = { registry: ref.registry, repository: ref.repository };
  }

  async resolve(): Promise<Descriptor> {
    const reference = this.ref.digest ?? this.ref.tag ?? 'latest';
    const m = await fetchManifest(this.client, this.ctx, this.ref.repository, reference);
    this.#remember(m);
    return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength };
  }

  async manifest(digest: Digest, mediaTypeHint?: string): Promise<FetchedManifest> {
    const hit = this.#cache.get(digest);
    if (hit) return hit;
    const m = await fetchManifest(this.client, this.ctx, this.ref.repository, digest, mediaTypeHint);
    return this.#remember(m);
  }

  async blob(desc: Descriptor): Promise<Readable> {
    return readBlob(this.client, this.ctx, this.ref.repository, desc);
  }

  async referrers(subject: Digest): Promise<Descriptor[]> {
    const fromApi = await referrersFromApi(this.client, this.ctx, this.ref.repository, subject);
    return fromApi ?? referrersFromFallback(this.client, this.ctx, this.ref.repository, subject);
  }

  async close(): Promise<void> {
    this.#cache.clear();
  }

  #remember(m: FetchedManifest): FetchedManifest {
    const entry: FetchedManifest = { bytes: m.bytes, mediaType: m.mediaType, digest: m.digest };
    if (this.#cache.size >= CACHED_MANIFESTS) this.#cache.delete(this.#cache.keys().next().value as Digest);
    this.#cache.set(m.digest, entry);
    return entry;
  }
}

/**
 * A ContentSource for `ref` (its tag, or its digest, or `latest`). Nothing is fetched until asked; the
 * registry's client (connections, tokens) is shared with every other source and sink of that registry.
 */
export async function openRegistrySource(ref: RegistryReference, options: RegistryOptions = {}): Promise<ContentSource> {
  return new RegistrySource(ref, registryClient(ref.registry, options), callContext(options));
}
