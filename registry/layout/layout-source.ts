import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import {
  InvalidContentError, LadingError, NotFoundError, UnsupportedError, digestOf, isManifestMediaType, parseManifest,
  referrerArtifactType, type ContentSource, type Descriptor, type Digest, type FetchedManifest, type ImageIndex,
  type ParsedManifest,
} from '../oci/index.js';
import type { LayoutReference } from '../reference.js';
import { MAX_MANIFEST_BYTES, blobPath, checkLayoutDir, ioError, isNotFound, readLayoutIndex, refNameOf } from './layout-dir.js';

/** Picks the descriptor a reference names from a layout's index.json. */
export type EntrySelector = (layout: LayoutSource) => Promise<Descriptor>;

export interface LayoutSourceOptions {
  /** Names the layout in messages (default `oci:DIR[:TAG]`). */
  location?: string;
}

/**
 * Opens an OCI image layout for reading. The directory, `oci-layout` and index.json are checked now; the
 * reference resolves by tag (`org.opencontainers.image.ref.name`), by digest, or — with neither — to the
 * only image in the layout.
 */
export async function openLayoutSource(ref: LayoutReference, options: LayoutSourceOptions = {}): Promise<ContentSource> {
  const suffix = ref.tag ? `:${ref.tag}` : ref.digest ? `:${ref.digest}` : '';
  return openLayoutDir(ref.path, options.location ?? `oci:${ref.path}${suffix}`, selectByReference(ref.tag, ref.digest));
}

/** Opens the layout in `dir` with a custom selector (the local store and archives use this). */
export async function openLayoutDir(dir: string, location: string, select: EntrySelector): Promise<LayoutSource> {
  const abs = resolve(dir);
  await checkLayoutDir(abs);
  return new LayoutSource(abs, location, await readLayoutIndex(abs), select);
}

/** Tag → entry; digest → entry (or any manifest blob); neither → the only image. */
export function selectByReference(tag: string | undefined, digest: Digest | undefined): EntrySelector {
  return async (layout) => {
    if (digest) return layout.byDigest(digest);
    if (tag !== undefined) {
      const found = layout.index.manifests.find((e) => refNameOf(e) === tag);
      if (!found) throw new NotFoundError(`${layout.location}: no image tagged "${tag}" (${layout.describeTags()})`);
      return found;
    }
    return layout.onlyImage();
  };
}

export class LayoutSource implements ContentSource {
  readonly #parsed = new Map<Digest, Promise<ParsedManifest | undefined>>();

  constructor(
    readonly dir: string,
    readonly location: string,
    /** index.json as read when the source was opened. */
    readonly index: ImageIndex,
    private readonly select: EntrySelector,
  ) {}

  async resolve(): Promise<Descriptor> {
    const desc = await this.select(this);
    if (!isManifestMediaType(desc.mediaType)) {
      throw new UnsupportedError(`${this.location}: ${desc.digest} has media type "${desc.mediaType}", not an image manifest or index`);
    }
    return desc;
  }

  async manifest(digest: Digest, mediaTypeHint?: string): Promise<FetchedManifest> {
    const what = `${this.location} manifest ${digest}`;
    const bytes = await this.readBlob(digest, MAX_MANIFEST_BYTES, what);
    const got = digestOf(bytes);
    if (got !== digest) throw new InvalidContentError(`${what}: content does not match its digest (got ${got})`);
    const hint = mediaTypeHint ?? this.index.manifests.find((e) => e.digest === digest)?.mediaType;
    const parsed = parseManifest(bytes, what, hint);
    return { bytes, mediaType: parsed.mediaType, digest };
  }

  async blob(desc: Descriptor): Promise<Readable> {
    const path = blobPath(this.dir, desc.digest);
    try {
      const fh = await open(path, 'r');
      return fh.createReadStream({ highWaterMark: 1 << 20 });
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`${this.location}: blob ${desc.digest} is missing (${path})`, { cause: err });
      throw ioError(`${this.location}: cannot read blob ${desc.digest}`, err);
    }
  }

  async referrers(subject: Digest): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    const seen = new Set<Digest>();
    for (const entry of this.index.manifests) {
      if (seen.has(entry.digest)) continue;
      seen.add(entry.digest);
      const parsed = await this.parsedEntry(entry);
      if (parsed?.manifest.subject?.digest !== subject) continue;
      const d: Descriptor = { mediaType: parsed.mediaType, digest: entry.digest, size: entry.size };
      const artifactType = referrerArtifactType(parsed);
      if (artifactType) d.artifactType = artifactType;
      if (parsed.manifest.annotations) d.annotations = { ...parsed.manifest.annotations };
      out.push(d);
    }
    return out;
  }

  async close(): Promise<void> {}

  /** The entry listing `digest`, else a descriptor for a manifest blob stored untagged (an index's child). */
  async byDigest(digest: Digest): Promise<Descriptor> {
    const found = this.index.manifests.find((e) => e.digest === digest);
    if (found) return found;
    try {
      const m = await this.manifest(digest);
      return { mediaType: m.mediaType, digest, size: m.bytes.byteLength };
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`${this.location}: no manifest ${digest} in the layout`, { cause: err });
      throw err;
    }
  }

  /** The single image of the layout, not counting referrers; else an error listing the tags. */
  async onlyImage(): Promise<Descriptor> {
    const entries = this.index.manifests;
    if (entries.length === 1) return entries[0] as Descriptor;
    const images: Descriptor[] = [];
    for (const e of entries) if (!(await this.parsedEntry(e))?.manifest.subject) images.push(e);
    if (images.length === 1) return images[0] as Descriptor;
    if (images.length === 0) throw new NotFoundError(`${this.location}: the layout holds no images`);
    throw new LadingError('USAGE', `${this.location}: the layout holds ${images.length} images; name one (${this.describeTags()})`);
  }

  /** `tags: a, b` for messages. */
  describeTags(): string {
    const tags = [...new Set(this.index.manifests.map(refNameOf).filter((t): t is string => t !== undefined))];
    return tags.length ? `tags: ${tags.join(', ')}` : 'it has no tags';
  }

  /** The parsed manifest of an index entry, or undefined when it is missing or not a manifest. */
  parsedEntry(entry: Descriptor): Promise<ParsedManifest | undefined> {
    let p = this.#parsed.get(entry.digest);
    if (!p) {
      p = this.manifest(entry.digest, entry.mediaType)
        .then((m) => parseManifest(m.bytes, `${this.location} manifest ${entry.digest}`, m.mediaType))
        .catch(() => undefined);
      this.#parsed.set(entry.digest, p);
    }
    return p;
  }

  async readBlob(digest: Digest, limit: number, what: string): Promise<Buffer> {
    const path = blobPath(this.dir, digest);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`${what}: blob is missing (${path})`, { cause: err });
      throw ioError(`${what}: cannot read ${path}`, err);
    }
    try {
      const { size } = await fh.stat();
      if (size > limit) throw new InvalidContentError(`${what}: ${size} bytes is larger than the ${limit}-byte limit`);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }
}
