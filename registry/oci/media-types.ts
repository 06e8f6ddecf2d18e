/** Media types lading reads and writes (OCI image-spec 1.1 and Docker schema 2). */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  OciLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  CycloneDx: 'application/vnd.cyclonedx+json',
  Spdx: 'application/spdx+json',
  SigstoreBundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  InToto: 'application/vnd.in-toto+json',
} as const;

/** Every manifest type, in the order we send them in `Accept` (registry 2.8 hides OCI content otherwise). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
];

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MediaType.OciIndex || mt === MediaType.DockerManifestList;
}

export function isImageManifestMediaType(mt: string | undefined): boolean {
  return mt === MediaType.OciManifest || mt === MediaType.DockerManifest;
}

export function isManifestMediaType(mt: string | undefined): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt);
}

export function isGzipLayer(mt: string): boolean {
  return mt === MediaType.OciLayerGzip || mt === MediaType.DockerLayerGzip || mt === MediaType.DockerForeignLayerGzip;
}

export function isUncompressedLayer(mt: string): boolean {
  return mt === MediaType.OciLayer || mt === MediaType.DockerLayer;
}

export function isZstdLayer(mt: string): boolean {
  return mt === MediaType.OciLayerZstd;
}

/** The empty JSON blob `{}` the image-spec uses for artifact configs. */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
