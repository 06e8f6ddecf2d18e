import { Readable } from 'node:stream';
import {
  InvalidContentError, NotFoundError, children, parseManifest, platformMatches, platformString,
  type ContentSink, type ContentSource, type Descriptor, type Digest, type ParsedManifest, type Platform,
} from '../oci/index.js';
import { boundedMap } from '../image/index.js';

export interface CopyOptions {
  /** Copy an index with every platform image; without it, only the image for `platform` is copied. */
  all?: boolean;
  /** Also copy the manifests that refer to each copied manifest (SBOMs, signatures), recursively. */
  referrers?: boolean;
  /** The platform picked from an index when `all` is false (default linux/<this machine's arch>). */
  platform?: Platform;
  /** Blobs transferred in parallel (default 6, as skopeo). */
  concurrency?: number;
  onEvent?: (event: CopyEvent) => void;
}

export type CopyEvent =
  | { type: 'blob'; digest: Digest; size: number; result: 'uploaded' | 'exists' | 'mounted' }
  | { type: 'manifest'; digest: Digest; mediaType: string; tagged: boolean }
  | { type: 'referrer'; subject: Digest; digest: Digest; artifactType?: string };

export interface CopyResult {
  /** The manifest written under the destination's tag. */
  descriptor: Descriptor;
  /** Blobs actually sent to the destination (not already there, not mounted). */
  uploaded: number;
  blobs: number;
  manifests: number;
  referrers: number;
}

const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function hostPlatform(): Platform {
  return { os: 'linux', architecture: NODE_ARCH[process.arch] ?? process.arch };
}

/**
 * Copies what `source` resolves to into `sink`, byte for byte (manifests are never re-serialized, so
 * digests are preserved), then commits. On any failure the sink is aborted: nothing is tagged.
 */
export async function copy(source: ContentSource, sink: ContentSink, options: CopyOptions = {}): Promise<CopyResult> {
  const result: CopyResult = { descriptor: undefined as unknown as Descriptor, uploaded: 0, blobs: 0, manifests: 0, referrers: 0 };
  const done = new Set<Digest>();
  const emit = options.onEvent ?? (() => {});
  const limit = options.concurrency ?? 6;

  const copyBlob = async (desc: Descriptor): Promise<void> => {
    if (done.has(desc.digest)) return;
    done.add(desc.digest);
    // Sinks verify digest and size while writing (ContentSink contract), so the bytes are hashed once.
    const open = async (): Promise<Readable> => source.blob(desc);
    const r = await sink.putBlob(desc, open, source.repository ? { from: source.repository } : {});
    result.blobs++;
    if (r === 'uploaded') result.uploaded++;
    emit({ type: 'blob', digest: desc.digest, size: desc.size, result: r });
  };

  /** Copies one manifest and everything under it; returns the descriptor written. */
  const copyManifest = async (desc: Descriptor, tag: boolean, all: boolean): Promise<Descriptor> => {
    const fetched = await source.manifest(desc.digest, desc.mediaType);
    const parsed = parseManifest(fetched.bytes, `${source.location} manifest ${desc.digest}`, fetched.mediaType);
    if (parsed.kind === 'index' && !all) {
      return copyManifest(pickPlatform(parsed, source.location, options.platform ?? hostPlatform()), tag, false);
    }
    if (parsed.kind === 'index') {
      for (const child of parsed.manifest.manifests) {
        await copyManifest(child, false, true);
      }
    } else {
      await boundedMap(children(parsed), limit, copyBlob);
    }
    const written = await sink.putManifest(fetched.bytes, parsed.mediaType, { tag });
    if (written.digest !== desc.digest) {
      throw new InvalidContentError(`${sink.location}: stored manifest digest ${written.digest} differs from the source's ${desc.digest}`);
    }
    result.manifests++;
    emit({ type: 'manifest', digest: written.digest, mediaType: parsed.mediaType, tagged: tag });
    if (options.referrers) await copyReferrers(written.digest);
    return written;
  };

  const seenReferrers = new Set<Digest>();
  const copyReferrers = async (subject: Digest): Promise<void> => {
    for (const ref of await source.referrers(subject)) {
      if (seenReferrers.has(ref.digest)) continue;
      seenReferrers.add(ref.digest);
      await copyManifest(ref, false, true);
      result.referrers++;
      emit({ type: 'referrer', subject, digest: ref.digest, ...(ref.artifactType ? { artifactType: ref.artifactType } : {}) });
    }
  };

  try {
    const root = await source.resolve();
    result.descriptor = await copyManifest(root, true, options.all ?? false);
    await sink.commit();
    return result;
  } catch (err) {
    await sink.abort().catch(() => {});
    throw err;
  }
}

/** The index entry for `want`, or a NotFoundError listing the platforms there are. */
export function pickPlatform(index: ParsedManifest & { kind: 'index' }, location: string, want: Platform): Descriptor {
  const match = index.manifest.manifests.find((m) => platformMatches(want, m.platform));
  if (match) return match;
  const have = index.manifest.manifests.map((m) => platformString(m.platform)).join(', ') || 'none';
  throw new NotFoundError(`${location}: the index has no image for ${platformString(want)} (it has: ${have}); use --all to copy every platform`);
}
