import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pickPlatform } from '../../../registry/copy/index.js';
import { imageFromSource } from '../../../registry/image/index.js';
import { NotFoundError, parseManifest, type ContentSource, type Image, type Platform } from '../../../registry/oci/index.js';
import { openSource, type OpenOptions } from '../../../registry/open.js';
import { parseReference } from '../../../registry/reference.js';
import {
  cnbSbomLayer, collectImageSbom, documentComponents, findSbomReferrers, parseSbomDocument,
  type Component, type FoundSbom, type Sbom, type SbomFormat,
} from '../../../sbom/index.js';

let version: string | undefined;
/** The tool named in SBOM documents: lading and its package.json version. */
export function sbomTool(): { name: string; version: string } {
  if (version === undefined) {
    version = '0.0.0';
    for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'lading' && pkg.version) {
        version = pkg.version;
        break;
      }
    }
  }
  return { name: 'lading', version };
}

export interface OpenedImage {
  source: ContentSource;
  image: Image;
  name: string;
}

/** Opens IMAGE (any transport) and reads the image for `platform` from an index. The caller closes `source`. */
export async function openImage(ref: string, options: OpenOptions, platform: Platform): Promise<OpenedImage> {
  const source = await openSource(parseReference(ref), options);
  try {
    let desc = await source.resolve();
    const fetched = await source.manifest(desc.digest, desc.mediaType);
    const parsed = parseManifest(fetched.bytes, `${source.location} manifest ${desc.digest}`, fetched.mediaType);
    if (parsed.kind === 'index') desc = pickPlatform(parsed, source.location, platform);
    return { source, image: await imageFromSource(source, desc), name: ref };
  } catch (err) {
    await source.close();
    throw err;
  }
}

/** Whether the argument names an SBOM file on disk rather than an image. */
export function isFile(arg: string): boolean {
  return existsSync(arg) && statSync(arg).isFile();
}

export type ImageSbom =
  | { from: 'referrers'; documents: FoundSbom[]; components: Component[] }
  | { from: 'layer'; sbom: Sbom; components: Component[] };

/**
 * The image SBOM: from its SBOM referrers when it has any, else assembled from its CNB SBOM layer (plus
 * the run image's dpkg records). NOT_FOUND when it has neither.
 */
export async function imageSbom(opened: OpenedImage): Promise<ImageSbom> {
  const documents = await findSbomReferrers(opened.source, opened.image.descriptor.digest);
  if (documents.length > 0) {
    const preferred = documents.find((d) => d.format === 'cyclonedx') ?? documents[0]!;
    const { doc } = parseSbomDocument(preferred.bytes, `${opened.source.location} referrer ${preferred.descriptor.digest}`);
    return { from: 'referrers', documents, components: documentComponents(doc, {}) };
  }
  if (!cnbSbomLayer(opened.image)) {
    throw new NotFoundError(`${opened.name} (${opened.image.descriptor.digest}) has no SBOM: no SBOM referrers and no CNB SBOM layer (sbom.sha in io.buildpacks.lifecycle.metadata)`);
  }
  const sbom = await collectImageSbom(opened.image, opened.name, opened.source.location);
  return { from: 'layer', sbom, components: sbom.components };
}

/** Components of an SBOM file, or of an image's SBOM. */
export async function componentsOf(arg: string, options: OpenOptions, platform: Platform): Promise<Component[]> {
  if (isFile(arg)) return documentComponents(parseSbomDocument(readFileSync(arg), arg).doc, {});
  const opened = await openImage(arg, options, platform);
  try {
    return (await imageSbom(opened)).components;
  } finally {
    await opened.source.close();
  }
}

export const FORMATS: readonly SbomFormat[] = ['cyclonedx', 'spdx'];
