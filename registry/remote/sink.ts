import type { Readable } from 'node:stream';
import {
  LadingError, digestOf, parseManifest,
  type BlobPutResult, type ContentSink, type Descriptor, type Digest, type PutBlobOptions, type PutManifestOptions,
  type RepositoryLocation,
} from '../oci/index.js';
import { familiarName, type RegistryReference } from '../reference.js';
import { BLOB_LOCATION_MIN_SIZE } from './blob-locations.js';
import { callContext, registryClient, type CallContext, type RegistryClient, type RegistryOptions } from './client.js';
import { putManifestBytes } from './manifests.js';
import { addToFallbackIndex, fallbackTag, referrerDescriptor, supportsReferrers } from './referrers.js';
import { repositoryScope } from './scope.js';
import { cancelUpload, uploadBlob } from './upload.js';

const DEFAULT_MONOLITHIC_LIMIT = 32 << 20;
const DEFAULT_CHUNK_SIZE = 8 << 20;

/**
 * Writes into a registry repository. Blobs are checked with HEAD, mounted from another repository of
 * the same registry when possible, else uploaded. Manifests are stored by digest at once; the tag and
 * the referrers fallback tags are written by `commit()`, so an aborted push tags nothing.
 */
class RegistrySink implements ContentSink {
  readonly location: string;
  readonly repository: RepositoryLocation;
  readonly #inflight = new Map<Digest, Promise<BlobPutResult>>();
  readonly #sessions = new Set<string>();
  #tagged: { bytes: Buffer; mediaType: string; digest: Digest } | undefined;
  #referrers: { subject: Digest; descriptor: Descriptor }[] = [];

  constructor(
    private readonly ref: RegistryReference,
    private readonly client: RegistryClient,
    private readonly ctx: CallContext,
    private readonly options: RegistryOptions,
  ) {
    this.location = `docker://${familiarName(ref)}`;
    this.repository = { registry: ref.registry, repository: ref.repository };
  }

  get #repo(): string {
    return this.ref.repository;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    const res = await this.client.send(
      {
        method: 'HEAD', url: `/v2/${this.#repo}/blobs/${desc.digest}`, repository: this.#repo,
        scopes: [repositoryScope(this.#repo, ['pull', 'push'])], followRedirects: true,
      },
      this.ctx,
    );
    await res.body.dump();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw new LadingError('REGISTRY', `HEAD ${this.client.registry}/${this.#repo} blob ${desc.digest}: HTTP ${res.statusCode}`);
  }

  putBlob(desc: Descriptor, open: () => Promise<Readable>, options: PutBlobOptions = {}): Promise<BlobPutResult> {
    // Concurrent puts of one digest share one upload.
    let p = this.#inflight.get(desc.digest);
    if (!p) {
      p = this.#putBlob(desc, open, options);
      this.#inflight.set(desc.digest, p);
      p.catch(() => this.#inflight.delete(desc.digest));
    }
    return p;
  }

  async #putBlob(desc: Descriptor, open: () => Promise<Readable>, options: PutBlobOptions): Promise<BlobPutResult> {
    const locations = desc.size >= BLOB_LOCATION_MIN_SIZE ? this.options.blobLocations : undefined;
    const remembered = await locations?.get(this.client.registry, desc.digest).catch(() => undefined);
    let result: BlobPutResult;
    if (await this.hasBlob(desc)) {
      result = 'exists';
    } else {
      const from = options.from ?? (remembered && remembered !== this.#repo ? { registry: this.client.registry, repository: remembered } : undefined);
      result = await uploadBlob(this.client, this.ctx, this.#repo, desc, open, {
        ...(from ? { from } : {}),
        monolithicLimit: this.options.monolithicLimit ?? DEFAULT_MONOLITHIC_LIMIT,
        chunkSize: this.options.chunkSize ?? DEFAULT_CHUNK_SIZE,
        sessions: this.#sessions,
      });
    }
    if (remembered !== this.#repo) await locations?.put(this.client.registry, desc.digest, this.#repo).catch(() => undefined);
    this.ctx.emit({ type: 'blob', registry: this.client.registry, repository: this.#repo, digest: desc.digest, size: desc.size, result });
    return result;
  }

  async putManifest(bytes: Buffer, mediaType: string, options: PutManifestOptions = {}): Promise<Descriptor> {
    const parsed = parseManifest(bytes, `${this.location} manifest`, mediaType);
    const digest = digestOf(bytes);
    const { descriptor, subjectHeader } = await putManifestBytes(this.client, this.ctx, this.#repo, digest, bytes, parsed.mediaType);
    this.ctx.emit({ type: 'manifest', registry: this.client.registry, repository: this.#repo, digest, mediaType: parsed.mediaType });
    const subject = parsed.manifest.subject;
    if (subject) {
      // OCI-Subject alone is not trusted (some registries send it without serving the API).
      const native = subjectHeader !== undefined && (await supportsReferrers(this.client, this.ctx, this.#repo, subject.digest));
      if (!native) this.#referrers.push({ subject: subject.digest, descriptor: referrerDescriptor(parsed, descriptor) });
    }
    if (options.tag && this.ref.tag !== undefined) this.#tagged = { bytes, mediaType: parsed.mediaType, digest };
    return descriptor;
  }

  async commit(): Promise<void> {
    const bySubject = new Map<Digest, Descriptor[]>();
    for (const r of this.#referrers) bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r.descriptor]);
    for (const [subject, descs] of bySubject) {
      const count = await addToFallbackIndex(this.client, this.ctx, this.#repo, subject, descs);
      const tag = fallbackTag(subject);
      if (count === undefined) {
        this.ctx.emit({ type: 'warning', registry: this.client.registry, message: `${this.client.registry}/${this.#repo}:${tag} is not an image index; referrers of ${subject} were not recorded there` });
      } else {
        this.ctx.emit({ type: 'referrers-fallback', registry: this.client.registry, repository: this.#repo, subject, tag, count });
      }
    }
    this.#referrers = [];
    const tagged = this.#tagged;
    if (tagged && this.ref.tag !== undefined) {
      await putManifestBytes(this.client, this.ctx, this.#repo, this.ref.tag, tagged.bytes, tagged.mediaType);
      this.ctx.emit({ type: 'manifest', registry: this.client.registry, repository: this.#repo, digest: tagged.digest, mediaType: tagged.mediaType, tag: this.ref.tag });
    }
    this.#tagged = undefined;
  }

  async abort(): Promise<void> {
    this.#tagged = undefined;
    this.#referrers = [];
    const sessions = [...this.#sessions];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => cancelUpload(this.client, this.ctx, this.#repo, s)));
  }
}

/**
 * A ContentSink for `ref` (tagged on commit when `ref` has a tag). Safe for concurrent `putBlob` calls;
 * shares the registry's client with every other source and sink of the process.
 */
export async function openRegistrySink(ref: RegistryReference, options: RegistryOptions = {}): Promise<ContentSink> {
  return new RegistrySink(ref, registryClient(ref.registry, options), callContext(options), options);
}
