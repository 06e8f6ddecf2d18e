import type { Readable } from 'node:stream';
import type { ConfigFile } from './config.js';
import type { Descriptor } from './descriptor.js';
import type { Digest } from './digest.js';
import type { ImageIndex, ImageManifest } from './manifest.js';

/**
 * A layer: addressed by its blob digest (as stored, usually gzip), compared by its diffID (the sha256 of
 * the uncompressed tar). Read-only; content is opened lazily.
 */
export interface Layer {
  readonly mediaType: string;
  /** Digest of the blob as stored. */
  readonly digest: Digest;
  /** Size of the blob as stored. */
  readonly size: number;
  /** sha256 of the uncompressed content. Equal to `digest` for uncompressed and non-tar blobs. */
  readonly diffId: Digest;
  readonly annotations?: Readonly<Record<string, string>>;
  /** The blob as stored. */
  compressed(): Promise<Readable>;
  /** The uncompressed content (the tar). */
  uncompressed(): Promise<Readable>;
}

/** An image: one manifest, its config and its layers. Immutable; mutations return new images. */
export interface Image {
  /** The manifest's media type, digest and size. */
  readonly descriptor: Descriptor;
  readonly rawManifest: Buffer;
  readonly manifest: ImageManifest;
  readonly rawConfig: Buffer;
  readonly config: ConfigFile;
  readonly layers: readonly Layer[];
  layerByDigest(digest: Digest): Layer | undefined;
  layerByDiffId(diffId: Digest): Layer | undefined;
}

/** An image index with its raw bytes; children are resolved through the source it came from. */
export interface Index {
  readonly descriptor: Descriptor;
  readonly rawManifest: Buffer;
  readonly manifest: ImageIndex;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** Where a blob lives in a registry, for cross-repository mounts. */
export interface RepositoryLocation {
  registry: string;
  repository: string;
}

/**
 * Read side of every place images live (registry, layout, archive, local store): the small core from
 * which `Image`s are derived. Implementations verify manifest bytes against their digests.
 */
export interface ContentSource {
  /** Where this is, for messages. Never contains credentials. */
  readonly location: string;
  /** If the content lives in a registry: its registry and repository (enables cross-repo mounts). */
  readonly repository?: RepositoryLocation;
  /** The descriptor of the manifest the reference names (tag or digest resolved). */
  resolve(): Promise<Descriptor>;
  /** Manifest bytes by digest, verified. */
  manifest(digest: Digest, mediaTypeHint?: string): Promise<FetchedManifest>;
  /** Blob bytes as stored. Callers that need integrity wrap this with `verifiedStream`. */
  blob(desc: Descriptor): Promise<Readable>;
  /** Descriptors of the manifests whose `subject` is `subject` (referrers API or fallback tag). */
  referrers(subject: Digest): Promise<Descriptor[]>;
  close(): Promise<void>;
}

export type BlobPutResult = 'uploaded' | 'exists' | 'mounted';

export interface PutBlobOptions {
  /** The blob also lives here; a registry sink on the same registry mounts it instead of uploading. */
  from?: RepositoryLocation;
}

export interface PutManifestOptions {
  /** Apply the tag the sink was opened for. Children and referrers are stored untagged. */
  tag?: boolean;
}

/**
 * Write side. Blobs first, manifests after their children, the tagged manifest last. Nothing becomes
 * visible under a tag before `commit()` succeeds (a registry tags on the final manifest PUT, which the
 * registry refuses while any blob is missing). A manifest with a `subject` is also recorded as a referrer
 * of it (referrers API, or the `sha256-<hex>` fallback tag index).
 */
export interface ContentSink {
  readonly location: string;
  readonly repository?: RepositoryLocation;
  hasBlob(desc: Descriptor): Promise<boolean>;
  /** Stores a blob unless present; `open` is only called when bytes must be sent. Verifies digest and size. */
  putBlob(desc: Descriptor, open: () => Promise<Readable>, options?: PutBlobOptions): Promise<BlobPutResult>;
  putManifest(bytes: Buffer, mediaType: string, options?: PutManifestOptions): Promise<Descriptor>;
  commit(): Promise<void>;
  /** Discards uncommitted work (temp files, staged archives). Safe to call after a failure. */
  abort(): Promise<void>;
}
