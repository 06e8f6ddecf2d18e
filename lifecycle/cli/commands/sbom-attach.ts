import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imageFromSource } from '../../../registry/image/index.js';
import { LadingError, type Descriptor, type Digest } from '../../../registry/oci/index.js';
import { openSink, openSource, type OpenOptions } from '../../../registry/open.js';
import type { ImageReference } from '../../../registry/reference.js';
import { collectImageSbom, putSbomReferrers, SBOM_FILE_NAMES, sbomDocuments } from '../../../sbom/index.js';
import { sbomTool } from './sbom-image.js';

export interface AttachSbomInput {
  /** Where the image was written. */
  dest: ImageReference;
  /** The image name as the user gave it (the SBOM's root component). */
  name: string;
  digest: Digest;
  options: OpenOptions;
  /** `--sbom-output-dir`: also write sbom.cdx.json and sbom.spdx.json here. */
  sbomDir?: string;
  onWarning?: (message: string) => void;
}

export interface AttachSbomResult {
  /** The referrer manifests written (none for archives). */
  referrers: Descriptor[];
  packages: number;
}

/**
 * After export (design §10): the image SBOM — the run image's dpkg records plus the buildpacks' SBOM files
 * from the CNB SBOM layer, read back from where the image was written — pushed as two referrers of the
 * image manifest (CycloneDX, SPDX). The image itself is not touched.
 */
export async function attachImageSbom(input: AttachSbomInput): Promise<AttachSbomResult> {
  const source = await openSource(input.dest, input.options);
  let docs;
  let created: string;
  let subject: Descriptor;
  let packages: number;
  try {
    const desc = await source.resolve();
    const image = await imageFromSource(source, desc.digest === input.digest ? desc : { ...desc, digest: input.digest });
    const sbom = await collectImageSbom(image, input.name, source.location);
    docs = sbomDocuments(sbom, { tool: sbomTool() });
    created = sbom.subject.created;
    subject = image.descriptor;
    packages = sbom.components.length;
  } finally {
    await source.close();
  }
  if (input.sbomDir) {
    try {
      await mkdir(input.sbomDir, { recursive: true });
      for (const d of docs) await writeFile(join(input.sbomDir, SBOM_FILE_NAMES[d.format]), d.bytes);
    } catch (err) {
      throw new LadingError('IO', `${input.sbomDir}: cannot write the image SBOM: ${(err as Error).message}`, { cause: err });
    }
  }
  if (input.dest.transport === 'docker-archive' || input.dest.transport === 'oci-archive') {
    input.onWarning?.(`${input.dest.transport} holds no referrers: the image SBOM is only in the CNB SBOM layer${input.sbomDir ? ` and ${input.sbomDir}` : ''}`);
    return { referrers: [], packages };
  }
  const sink = await openSink(input.dest, input.options);
  try {
    const referrers = await putSbomReferrers(sink, subject, docs, { created, scope: 'image' });
    await sink.commit();
    return { referrers, packages };
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  }
}
