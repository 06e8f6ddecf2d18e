import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imageFromSource } from '../../../registry/image/index.js';
import { LadingError, digestOf, type ContentSource, type Descriptor, type Digest, type Image } from '../../../registry/oci/index.js';
import { keepFile } from '../../../registry/keep-file.js';
import { openSink, openSource, type OpenOptions } from '../../../registry/open.js';
import type { ImageReference } from '../../../registry/reference.js';
import {
  cnbSbomFilesOf, collectImageSbom, findSbomReferrers, putSbomReferrers, SBOM_FILE_NAMES, SBOM_MEDIA_TYPES, SBOM_SCOPE_ANNOTATION, sbomDocuments, type Component,
  type OsPackagesCache, type SbomDocument,
} from '../../../sbom/index.js';
import { sbomTool } from './sbom-image.js';

export interface AttachSbomInput {
  /** Where the image was written. */
  dest: ImageReference;
  /** The image name as the user gave it (the SBOM's root component). */
  name: string;
  digest: Digest;
  /**
   * The image as its export wrote it, with the files of its CNB SBOM layer: the SBOM is made from these instead
   * of reading the image and that layer back from `dest`.
   */
  exported?: { image: Image; sbomFiles: Iterable<readonly [string, Buffer]> };
  options: OpenOptions;
  /** `--sbom-output-dir`: also write sbom.cdx.json and sbom.spdx.json here. */
  sbomDir?: string;
  /** Where the run image's OS package lists are kept between builds (LADING_HOME/cache/os-packages). */
  osPackagesDir?: string;
  onWarning?: (message: string) => void;
}

/**
 * OS package lists as JSON files in `dir`, one sub-directory per lading version (the list is lading's reading
 * of the dpkg records). Entries are written to a temp name and renamed; an unreadable one is read afresh.
 */
export function osPackagesFileCache(dir: string): OsPackagesCache {
  const versioned = join(dir, sbomTool().version);
  const file = (key: string) => join(versioned, `${key}.json`);
  return {
    async get(key) {
      try {
        const v = JSON.parse(await readFile(file(key), 'utf8')) as unknown;
        return Array.isArray(v) ? (v as Component[]) : undefined;
      } catch {
        return undefined;
      }
    },
    async put(key, components) {
      // a cache that cannot be written only costs the next build the reading
      await keepFile(file(key), JSON.stringify(components));
    },
  };
}

export interface AttachSbomResult {
  /** The referrer manifests written (none for archives). */
  referrers: Descriptor[];
  packages: number;
}

/**
 * Annotations of an image SBOM referrer besides its scope: a digest of what the documents depend on other than
 * the image itself (the name given as the SBOM's root component, the tool and its version), and how many
 * packages the SBOM lists. They let a rebuild that produced the same image find its SBOM already attached.
 */
export const SBOM_INPUT_ANNOTATION = 'io.lading.sbom.input';
export const SBOM_PACKAGES_ANNOTATION = 'io.lading.sbom.packages';

/** The SBOM_INPUT_ANNOTATION value for an image SBOM made for `name` by this lading. */
export function sbomInputDigest(name: string): Digest {
  const tool = sbomTool();
  return digestOf(Buffer.from(JSON.stringify({ name, tool: `${tool.name}@${tool.version}` })));
}

/**
 * The image SBOM referrers of `digest` made from the same input (both formats), if `source` has them: an
 * image's SBOM is a function of the image's content and that input, so a no-op rebuild (same digest) need not
 * read the image's layers and push the documents again.
 */
export async function attachedImageSbom(source: ContentSource, digest: Digest, input: Digest): Promise<AttachSbomResult | undefined> {
  const mine = (await source.referrers(digest))
    .filter((d) => d.annotations?.[SBOM_SCOPE_ANNOTATION] === 'image' && d.annotations?.[SBOM_INPUT_ANNOTATION] === input)
    .sort((a, b) => (a.digest < b.digest ? -1 : 1));
  const cyclonedx = mine.find((d) => d.artifactType === SBOM_MEDIA_TYPES.cyclonedx);
  const spdx = mine.find((d) => d.artifactType === SBOM_MEDIA_TYPES.spdx);
  const packages = Number(cyclonedx?.annotations?.[SBOM_PACKAGES_ANNOTATION]);
  if (!cyclonedx || !spdx || !Number.isSafeInteger(packages) || packages < 0) return undefined;
  return { referrers: [cyclonedx, spdx], packages };
}

async function writeSbomDir(dir: string, docs: readonly SbomDocument[]): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    for (const d of docs) await writeFile(join(dir, SBOM_FILE_NAMES[d.format]), d.bytes);
  } catch (err) {
    throw new LadingError('IO', `${dir}: cannot write the image SBOM: ${(err as Error).message}`, { cause: err });
  }
}

async function readImage(source: ContentSource, digest: Digest): Promise<Image> {
  const desc = await source.resolve();
  return imageFromSource(source, desc.digest === digest ? desc : { ...desc, digest });
}

/**
 * After export (design §10): the image SBOM — the run image's dpkg records plus the buildpacks' SBOM files
 * from the CNB SBOM layer, given by the export or read back from where the image was written — pushed as two referrers of the
 * image manifest (CycloneDX, SPDX). The image itself is not touched. When the image already has both
 * referrers made from the same input (a no-op rebuild), they are kept as they are: nothing is read or
 * pushed (with `sbomDir`, their documents are fetched and written there).
 */
export async function attachImageSbom(input: AttachSbomInput): Promise<AttachSbomResult> {
  const archive = input.dest.transport === 'docker-archive' || input.dest.transport === 'oci-archive';
  const inputDigest = sbomInputDigest(input.name);
  const source = await openSource(input.dest, input.options);
  let docs;
  let created: string;
  let subject: Descriptor;
  let packages: number;
  try {
    if (!archive) {
      const attached = await attachedImageSbom(source, input.digest, inputDigest);
      if (attached) {
        if (input.sbomDir) {
          const wanted = new Set(attached.referrers.map((d) => d.digest));
          await writeSbomDir(input.sbomDir, (await findSbomReferrers(source, input.digest)).filter((f) => wanted.has(f.descriptor.digest)));
        }
        return attached;
      }
    }
    const image = input.exported?.image ?? (await readImage(source, input.digest));
    const files = input.exported ? cnbSbomFilesOf(input.exported.sbomFiles) : undefined;
    const sbom = await collectImageSbom(image, input.name, source.location, input.osPackagesDir ? osPackagesFileCache(input.osPackagesDir) : undefined, files);
    docs = sbomDocuments(sbom, { tool: sbomTool() });
    created = sbom.subject.created;
    subject = image.descriptor;
    packages = sbom.components.length;
  } finally {
    await source.close();
  }
  if (input.sbomDir) await writeSbomDir(input.sbomDir, docs);
  if (archive) {
    input.onWarning?.(`${input.dest.transport} holds no referrers: the image SBOM is only in the CNB SBOM layer${input.sbomDir ? ` and ${input.sbomDir}` : ''}`);
    return { referrers: [], packages };
  }
  const sink = await openSink(input.dest, input.options);
  try {
    const annotations = { [SBOM_INPUT_ANNOTATION]: inputDigest, [SBOM_PACKAGES_ANNOTATION]: String(packages) };
    const referrers = await putSbomReferrers(sink, subject, docs, { created, scope: 'image', annotations });
    await sink.commit();
    return { referrers, packages };
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  }
}
