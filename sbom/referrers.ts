import { Readable } from 'node:stream';
import {
  ANNOTATION_CREATED, EMPTY_JSON, EMPTY_JSON_DIGEST, InvalidContentError, MediaType, digestOf, parseManifest, serializeManifest,
  type ContentSink, type ContentSource, type Descriptor, type Digest,
} from '../registry/oci/index.js';
import type { SbomFormat } from './documents.js';
import { documentTime } from './identity.js';

export const SBOM_MEDIA_TYPES: Record<SbomFormat, string> = { cyclonedx: MediaType.CycloneDx, spdx: MediaType.Spdx };
export const SBOM_FILE_NAMES: Record<SbomFormat, string> = { cyclonedx: 'sbom.cdx.json', spdx: 'sbom.spdx.json' };
/** Annotation saying what a referrer SBOM covers: `image` (app image SBOM) or `os` (a stack image's packages). */
export const SBOM_SCOPE_ANNOTATION = 'io.lading.sbom.scope';

export interface SbomDocument {
  format: SbomFormat;
  bytes: Buffer;
}

const EMPTY: Descriptor = { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as Digest, size: 2 };

/**
 * Stores each document as an OCI artifact referring to `subject` (artifactType = the SBOM media type, config
 * the empty descriptor, one layer holding the document, `org.opencontainers.image.created` = the image's
 * created). The sink records the referrers (API or fallback tag; untagged layout entries) on commit,
 * which the caller does. Same documents → same manifest digests.
 */
export async function putSbomReferrers(
  sink: ContentSink, subject: Descriptor, docs: readonly SbomDocument[],
  options: { created: string; scope: 'image' | 'os'; /** More manifest annotations (e.g. what the documents were made from). */ annotations?: Record<string, string> },
): Promise<Descriptor[]> {
  const layers = docs.map((doc): Descriptor => ({
    mediaType: SBOM_MEDIA_TYPES[doc.format], digest: digestOf(doc.bytes), size: doc.bytes.byteLength,
    annotations: { 'org.opencontainers.image.title': SBOM_FILE_NAMES[doc.format] },
  }));
  // The blobs go up together; the manifests one after another, as a registry without the referrers API has
  // each one added to the same referrers tag (read, then replaced).
  await Promise.all([
    sink.putBlob(EMPTY, async () => Readable.from([EMPTY_JSON])),
    ...docs.map((doc, i) => sink.putBlob(layers[i]!, async () => Readable.from([doc.bytes]))),
  ]);
  const out: Descriptor[] = [];
  for (const [i, doc] of docs.entries()) {
    const mediaType = SBOM_MEDIA_TYPES[doc.format];
    const layer = layers[i]!;
    const { bytes } = serializeManifest({
      schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: mediaType, config: EMPTY, layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { ...options.annotations, [ANNOTATION_CREATED]: documentTime(options.created), [SBOM_SCOPE_ANNOTATION]: options.scope },
    });
    out.push({ ...(await sink.putManifest(bytes, MediaType.OciManifest, { tag: false })), artifactType: mediaType });
  }
  return out;
}

async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += (c as Buffer).byteLength;
    if (size > limit) throw new InvalidContentError(`${what}: larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface FoundSbom extends SbomDocument {
  /** The referrer manifest's descriptor. */
  descriptor: Descriptor;
  scope?: string;
}

/** The SBOM documents attached to `subject` as referrers (both formats), each verified against its digest. */
export async function findSbomReferrers(source: ContentSource, subject: Digest): Promise<FoundSbom[]> {
  const out: FoundSbom[] = [];
  const entries = [...(await source.referrers(subject))].sort((a, b) => (a.digest < b.digest ? -1 : 1));
  for (const d of entries) {
    const format = (Object.keys(SBOM_MEDIA_TYPES) as SbomFormat[]).find((f) => SBOM_MEDIA_TYPES[f] === d.artifactType);
    if (!format) continue;
    const fetched = await source.manifest(d.digest, d.mediaType);
    const parsed = parseManifest(fetched.bytes, `${source.location} referrer ${d.digest}`, fetched.mediaType);
    if (parsed.kind !== 'manifest' || !parsed.manifest.layers[0]) continue;
    const layer = parsed.manifest.layers[0];
    const what = `${source.location} SBOM blob ${layer.digest}`;
    const bytes = await readAll(await source.blob(layer), 256 << 20, what);
    if (digestOf(bytes) !== layer.digest) throw new InvalidContentError(`${what}: content does not match its digest`);
    const scope = parsed.manifest.annotations?.[SBOM_SCOPE_ANNOTATION];
    out.push({ format, bytes, descriptor: d, ...(scope ? { scope } : {}) });
  }
  return out;
}
