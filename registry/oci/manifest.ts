import { digestOf, type Digest } from './digest.js';
import { isRecord, parseDescriptor, type Descriptor } from './descriptor.js';
import { InvalidContentError, UnsupportedError } from './errors.js';
import { parseJson, stableJsonBytes } from './json.js';
import { MediaType, isImageManifestMediaType, isIndexMediaType } from './media-types.js';

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; manifest: ImageIndex };

/**
 * Parses manifest bytes. The media type comes from the document's own `mediaType`, else from `hint`
 * (a Content-Type or descriptor), else from its shape. `what` names the source for error messages.
 */
export function parseManifest(bytes: Uint8Array, what: string, hint?: string): ParsedManifest {
  const doc = parseJson(bytes, what);
  if (!isRecord(doc)) throw new InvalidContentError(`${what}: manifest is not a JSON object`);
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (doc.schemaVersion === 1 || hint === MediaType.DockerSchema1 || hint === MediaType.DockerSchema1Signed) {
    throw new UnsupportedError(`${what}: Docker schema 1 manifests are not supported (re-push the image with a current client)`);
  }
  if (doc.schemaVersion !== 2) throw new InvalidContentError(`${what}: schemaVersion must be 2`);
  let mediaType = declared ?? (hint && hint !== 'application/json' && hint !== 'text/plain' ? hint : undefined);
  if (!mediaType) mediaType = Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  if (declared && hint && isKnown(hint) && hint !== declared) {
    throw new InvalidContentError(`${what}: mediaType "${declared}" does not match the expected "${hint}"`);
  }
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new InvalidContentError(`${what}: index has no "manifests" array`);
    const manifests = doc.manifests.map((m, i) => parseDescriptor(m, `${what} manifests[${i}]`));
    const manifest = { ...(doc as object), manifests } as ImageIndex;
    if (doc.subject !== undefined) manifest.subject = parseDescriptor(doc.subject, `${what} subject`);
    return { kind: 'index', mediaType, manifest };
  }
  if (isImageManifestMediaType(mediaType)) {
    const config = parseDescriptor(doc.config, `${what} config`);
    if (!Array.isArray(doc.layers)) throw new InvalidContentError(`${what}: manifest has no "layers" array`);
    const layers = doc.layers.map((l, i) => parseDescriptor(l, `${what} layers[${i}]`));
    const manifest = { ...(doc as object), config, layers } as ImageManifest;
    if (doc.subject !== undefined) manifest.subject = parseDescriptor(doc.subject, `${what} subject`);
    return { kind: 'manifest', mediaType, manifest };
  }
  throw new UnsupportedError(`${what}: unsupported manifest media type "${mediaType}"`);
}

function isKnown(mt: string): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt);
}

/** Serializes a manifest or index deterministically; returns bytes and digest. */
export function serializeManifest(manifest: ImageManifest | ImageIndex): { bytes: Buffer; digest: Digest } {
  const bytes = stableJsonBytes(manifest);
  return { bytes, digest: digestOf(bytes) };
}

/** The `artifactType` a referrers listing reports for a manifest (its own, else its config's media type). */
export function referrerArtifactType(parsed: ParsedManifest): string | undefined {
  if (parsed.manifest.artifactType) return parsed.manifest.artifactType;
  return parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined;
}

/** Every descriptor a manifest points at that must exist before it can be stored (not `subject`). */
export function children(parsed: ParsedManifest): Descriptor[] {
  return parsed.kind === 'index' ? parsed.manifest.manifests : [parsed.manifest.config, ...parsed.manifest.layers];
}
