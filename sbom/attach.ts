import type { ContentSink, Descriptor, Image } from '../registry/oci/index.js';
import { writeCycloneDx, type WriterOptions } from './cyclonedx.js';
import { osPackages } from './image-sbom.js';
import type { Sbom } from './model.js';
import { putSbomReferrers, type SbomDocument } from './referrers.js';
import { writeSpdx } from './spdx.js';

/** Both documents of an SBOM, CycloneDX first. */
export function sbomDocuments(sbom: Sbom, options: WriterOptions = {}): SbomDocument[] {
  return [
    { format: 'cyclonedx', bytes: Buffer.from(writeCycloneDx(sbom, options)) },
    { format: 'spdx', bytes: Buffer.from(writeSpdx(sbom, options)) },
  ];
}

/** A stack image's OS-package SBOM (every layer's dpkg records), with the image as the root. */
export async function stackImageSbom(image: Image, name: string): Promise<Sbom> {
  const components = await osPackages(image, image.layers, name);
  const platform = `${image.config.os}/${image.config.architecture}`;
  return { subject: { name, digest: image.descriptor.digest, created: image.config.created ?? '1980-01-01T00:00:01Z', platform }, components };
}

/**
 * Puts a stack image's OS SBOM (CycloneDX + SPDX) into `sink` as referrers of the image (scope `os`), so
 * whoever reads the run image finds its package list. The caller commits with the image.
 */
export async function putStackSbom(sink: ContentSink, image: Image, name: string, options: WriterOptions = {}): Promise<Descriptor[]> {
  const sbom = await stackImageSbom(image, name);
  return putSbomReferrers(sink, image.descriptor, sbomDocuments(sbom, options), { created: sbom.subject.created, scope: 'os' });
}
