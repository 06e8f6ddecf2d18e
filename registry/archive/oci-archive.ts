import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ContentSink, ContentSource, Descriptor, Digest, FetchedManifest } from '../oci/index.js';
import { openLayoutDir, openLayoutSink, selectByReference, type LayoutSource } from '../layout/index.js';
import type { OciArchiveReference } from '../reference.js';
import { extractTar } from './tar-files.js';
import { StagedArchiveSink, checkDestination, renamed, unpackArchive, type ArchiveOptions } from './archive-staging.js';

function locationOf(ref: OciArchiveReference): string {
  return `oci-archive:${ref.path}${ref.tag ? `:${ref.tag}` : ''}`;
}

/**
 * Reads an oci-archive (a tar of an OCI image layout): unpacked into a private temp directory, read as a
 * layout, removed on `close()`. Resolution is the layout's: tag, or the only image.
 */
export async function openOciArchiveSource(ref: OciArchiveReference, options: ArchiveOptions = {}): Promise<ContentSource> {
  const root = await unpackArchive(ref.path, options, 'oci-archive');
  try {
    return new UnpackedSource(await openLayoutDir(root, locationOf(ref), selectByReference(ref.tag, undefined)), root, ref.path);
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw renamed(err, root, ref.path);
  }
}

/** A layout source over an unpacked archive: errors name the archive, `close()` removes the unpacked files. */
export class UnpackedSource implements ContentSource {
  constructor(
    private readonly layout: LayoutSource,
    private readonly root: string,
    private readonly archive: string,
  ) {}

  get location(): string {
    return this.layout.location;
  }

  resolve(): Promise<Descriptor> {
    return this.#named(this.layout.resolve());
  }

  manifest(digest: Digest, mediaTypeHint?: string): Promise<FetchedManifest> {
    return this.#named(this.layout.manifest(digest, mediaTypeHint));
  }

  blob(desc: Descriptor): Promise<Readable> {
    return this.#named(this.layout.blob(desc));
  }

  referrers(subject: Digest): Promise<Descriptor[]> {
    return this.#named(this.layout.referrers(subject));
  }

  async close(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }

  async #named<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw renamed(err, this.root, this.archive);
    }
  }
}

/**
 * Writes an oci-archive. The layout is staged in a private temp directory (seeded with the existing
 * archive's content, so its other tags are kept and this tag is added or replaced) and packed at commit
 * into a temp file beside the destination, then renamed over it (failing if another writer replaced it meanwhile).
 */
export async function openOciArchiveSink(ref: OciArchiveReference, options: ArchiveOptions = {}): Promise<ContentSink> {
  const { exists, version } = await checkDestination(ref.path);
  const staging = await unpackArchive(undefined, options, 'oci-archive');
  const layoutDir = join(staging, 'layout');
  try {
    if (exists) await extractTar(ref.path, layoutDir);
    const inner = await openLayoutSink({ transport: 'oci', path: layoutDir, ...(ref.tag ? { tag: ref.tag } : {}) }, { location: locationOf(ref) });
    return new StagedArchiveSink(inner, staging, layoutDir, ref.path, version);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw renamed(err, layoutDir, ref.path);
  }
}
