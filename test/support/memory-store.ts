import { Readable } from 'node:stream';
import {
  NotFoundError, digestOf, parseManifest,
  type BlobPutResult, type ContentSink, type ContentSource, type Descriptor, type Digest, type FetchedManifest,
  type RepositoryLocation,
} from '../../registry/oci/index.js';
import { readAll } from '../../registry/image/index.js';

/**
 * An in-memory content store implementing both contracts, for fast unit tests of code that moves content
 * (never the only proof: the real registry and layouts are tested elsewhere).
 */
export class MemoryStore {
  readonly blobs = new Map<Digest, Buffer>();
  readonly manifests = new Map<Digest, { bytes: Buffer; mediaType: string }>();
  readonly tags = new Map<string, Digest>();
  uploads = 0;

  source(tag: string, repository?: RepositoryLocation): ContentSource {
    const store = this;
    return {
      location: `memory:${tag}`,
      ...(repository ? { repository } : {}),
      async resolve() {
        const d = store.tags.get(tag);
        const m = d && store.manifests.get(d);
        if (!d || !m) throw new NotFoundError(`memory:${tag}: no such tag`);
        return { mediaType: m.mediaType, digest: d, size: m.bytes.byteLength };
      },
      async manifest(digest): Promise<FetchedManifest> {
        const m = store.manifests.get(digest);
        if (!m) throw new NotFoundError(`memory: manifest ${digest} not found`);
        return { bytes: m.bytes, mediaType: m.mediaType, digest };
      },
      async blob(desc) {
        const b = store.blobs.get(desc.digest);
        if (!b) throw new NotFoundError(`memory: blob ${desc.digest} not found`);
        return Readable.from([b]);
      },
      async referrers(subject) {
        const out: Descriptor[] = [];
        for (const [digest, m] of store.manifests) {
          const parsed = parseManifest(m.bytes, 'memory', m.mediaType);
          if (parsed.manifest.subject?.digest === subject) {
            const d: Descriptor = { mediaType: m.mediaType, digest, size: m.bytes.byteLength };
            const at = parsed.manifest.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
            if (at) d.artifactType = at;
            out.push(d);
          }
        }
        return out;
      },
      async close() {},
    };
  }

  sink(tag: string, repository?: RepositoryLocation): ContentSink & { committed: boolean } {
    const store = this;
    const pendingTags = new Map<string, Digest>();
    return {
      location: `memory:${tag}`,
      ...(repository ? { repository } : {}),
      committed: false,
      async hasBlob(desc) {
        return store.blobs.has(desc.digest);
      },
      async putBlob(desc, open): Promise<BlobPutResult> {
        if (store.blobs.has(desc.digest)) return 'exists';
        const bytes = await readAll(await open());
        if (digestOf(bytes) !== desc.digest) throw new Error(`memory: blob does not match ${desc.digest}`);
        store.blobs.set(desc.digest, bytes);
        store.uploads++;
        return 'uploaded';
      },
      async putManifest(bytes, mediaType, options = {}) {
        const digest = digestOf(bytes);
        store.manifests.set(digest, { bytes, mediaType });
        if (options.tag) pendingTags.set(tag, digest);
        return { mediaType, digest, size: bytes.byteLength };
      },
      async commit() {
        for (const [t, d] of pendingTags) store.tags.set(t, d);
        this.committed = true;
      },
      async abort() {
        pendingTags.clear();
      },
    };
  }
}
