import {
  ANNOTATION_CREATED, digestOf, EMPTY_JSON, EMPTY_JSON_DIGEST, MediaType, serializeManifest,
  type Descriptor, type Digest, type ImageManifest,
} from '../../registry/oci/index.js';

/** Annotations cosign v3 puts on a bundle referrer (notes §6.2). */
export const ANNOTATION_BUNDLE_CONTENT = 'dev.sigstore.bundle.content';
export const ANNOTATION_BUNDLE_PREDICATE_TYPE = 'dev.sigstore.bundle.predicateType';

/** The pieces of a bundle referrer, ready for a sink: blobs first (config, bundle), then the manifest. */
export interface BundleReferrer {
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  config: { descriptor: Descriptor; bytes: Buffer };
  bundle: { descriptor: Descriptor; bytes: Buffer };
}

/**
 * A Sigstore bundle as an OCI referrer of `subject`, laid out as cosign v3 writes it: artifactType and layer
 * mediaType `application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config, and the annotations
 * `dev.sigstore.bundle.content`, `dev.sigstore.bundle.predicateType` and `org.opencontainers.image.created`
 * (`created` comes from the image, never the clock).
 */
export function bundleReferrer(bundle: Buffer, subject: Descriptor, predicateType: string, created: string): BundleReferrer {
  const config: Descriptor = { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as Digest, size: EMPTY_JSON.byteLength };
  const layer: Descriptor = { mediaType: MediaType.SigstoreBundle, digest: digestOf(bundle), size: bundle.byteLength };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: MediaType.SigstoreBundle,
    config,
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      [ANNOTATION_BUNDLE_CONTENT]: 'dsse-envelope',
      [ANNOTATION_BUNDLE_PREDICATE_TYPE]: predicateType,
      [ANNOTATION_CREATED]: created,
    },
  };
  const { bytes, digest } = serializeManifest(manifest);
  return { manifest, manifestBytes: bytes, manifestDigest: digest, config: { descriptor: config, bytes: EMPTY_JSON }, bundle: { descriptor: layer, bytes: bundle } };
}

/** Whether a referrers-listing descriptor is a Sigstore bundle (v0.3, or the `bundle+json;version=0.3` alias). */
export function isBundleReferrer(desc: Descriptor): boolean {
  const t = desc.artifactType ?? '';
  return t === MediaType.SigstoreBundle || /^application\/vnd\.dev\.sigstore\.bundle\+json;\s*version=0\.3$/.test(t);
}

/** The bundle layer of a referrer manifest, if it has one. */
export function bundleLayerOf(manifest: ImageManifest): Descriptor | undefined {
  return manifest.layers.find((l) => l.mediaType === MediaType.SigstoreBundle || l.mediaType.startsWith('application/vnd.dev.sigstore.bundle'));
}

/**
 * The `created` annotation for an attestation about an image: the image's own `created`, else
 * SOURCE_DATE_EPOCH, else lading's constant (design §4), so attaching twice writes the same manifest.
 */
export function attestationCreated(imageCreated: string | undefined, sourceDateEpoch: string | undefined): string {
  if (imageCreated) return imageCreated;
  if (sourceDateEpoch && /^\d+$/.test(sourceDateEpoch)) return new Date(Number(sourceDateEpoch) * 1000).toISOString().replace('.000Z', 'Z');
  return '1980-01-01T00:00:01Z';
}
