import type { Descriptor, ImageIndex } from '../oci/index.js';
import { refNameOf } from './layout-dir.js';

/** How a sink names the entry it tags: the annotations it writes and which existing entries carry the same name. */
export interface EntryName {
  annotations: Record<string, string>;
  /** True for existing entries with the same name; they are replaced (re-tagging moves the name). */
  sameName(entry: Descriptor): boolean;
}

/** The plain-layout naming: `org.opencontainers.image.ref.name` = tag. */
export function refNameEntry(tag: string): EntryName {
  return { annotations: { 'org.opencontainers.image.ref.name': tag }, sameName: (e) => refNameOf(e) === tag };
}

function bare(desc: Descriptor): Descriptor {
  const d: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  if (desc.platform) d.platform = desc.platform;
  if (desc.artifactType) d.artifactType = desc.artifactType;
  return d;
}

/** Records `desc` under `name` (replacing what had that name), or as an untagged entry when `name` is undefined. */
export function withEntry(index: ImageIndex, desc: Descriptor, name: EntryName | undefined): ImageIndex {
  if (name) {
    const kept = index.manifests.filter((e) => !name.sameName(e));
    return { ...index, manifests: [...kept, { ...bare(desc), annotations: { ...name.annotations } }] };
  }
  if (index.manifests.some((e) => e.digest === desc.digest && refNameOf(e) === undefined)) return index;
  return { ...index, manifests: [...index.manifests, desc] };
}

/**
 * Records a referrer (a manifest with `subject`) as an untagged entry carrying its artifactType and
 * annotations, as a referrers API response would. Nothing if an entry already lists that digest.
 */
export function withReferrer(index: ImageIndex, desc: Descriptor): ImageIndex {
  if (index.manifests.some((e) => e.digest === desc.digest)) return index;
  return { ...index, manifests: [...index.manifests, desc] };
}

/** Drops the entries `drop` selects. */
export function withoutEntries(index: ImageIndex, drop: (entry: Descriptor) => boolean): ImageIndex {
  return { ...index, manifests: index.manifests.filter((e) => !drop(e)) };
}
