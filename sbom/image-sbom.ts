import { createHash } from 'node:crypto';
import { InvalidContentError, type Image, type Layer } from '../registry/oci/index.js';
import { formatOf, documentComponents } from './documents.js';
import { dpkgComponents, STATUS_D } from './dpkg.js';
import { filesOfLayers, tarFiles } from './image-files.js';
import { mergeComponents } from './merge.js';
import type { Component, Sbom } from './model.js';

export const LIFECYCLE_METADATA = 'io.buildpacks.lifecycle.metadata';

interface LifecycleLabel {
  sbomDiffId?: string;
  runImageTopLayer?: string;
}

function lifecycleLabel(image: Image): LifecycleLabel | undefined {
  const raw = image.config.config?.Labels?.[LIFECYCLE_METADATA];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as { sbom?: { sha?: unknown }; runImage?: { topLayer?: unknown } };
    return {
      ...(typeof v.sbom?.sha === 'string' && v.sbom.sha ? { sbomDiffId: v.sbom.sha } : {}),
      ...(typeof v.runImage?.topLayer === 'string' && v.runImage.topLayer ? { runImageTopLayer: v.runImage.topLayer } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The layers that came from the run image (up to `runImage.topLayer`); all layers of an image without the label. */
export function runImageLayers(image: Image): readonly Layer[] {
  const top = lifecycleLabel(image)?.runImageTopLayer;
  const i = top ? image.layers.findIndex((l) => l.diffId === top) : -1;
  return i >= 0 ? image.layers.slice(0, i + 1) : image.layers;
}

function osRelease(text: string | undefined): { id: string; versionId: string } | undefined {
  if (!text) return undefined;
  const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1];
  const id = get('ID');
  const versionId = get('VERSION_ID');
  return id && versionId ? { id, versionId } : undefined;
}

/** The OS packages in `layers` (dpkg status.d records + DEP-5 copyright files), read from the layer tars. */
export async function osPackages(image: Image, layers: readonly Layer[] = runImageLayers(image), what = 'image'): Promise<Component[]> {
  const want = (p: string) =>
    p.startsWith(`${STATUS_D}/`) || /^usr\/share\/doc\/[^/]+\/copyright$/.test(p) || p === 'etc/os-release' || p === 'usr/lib/os-release';
  const files = await filesOfLayers(layers, want, what);
  const text = (p: string) => files.get(p)?.toString('utf8');
  const labels = image.config.config?.Labels ?? {};
  const distroName = labels['io.buildpacks.base.distro.name'];
  const distroVersion = labels['io.buildpacks.base.distro.version'];
  const distro = distroName && distroVersion ? { id: distroName, versionId: distroVersion } : osRelease(text('etc/os-release') ?? text('usr/lib/os-release'));
  const statusFiles = new Map<string, string>();
  const copyrightFiles = new Map<string, string>();
  for (const [p, b] of files) {
    if (p.startsWith(`${STATUS_D}/`)) statusFiles.set(p, b.toString('utf8'));
    else if (p.endsWith('/copyright')) copyrightFiles.set(p, b.toString('utf8'));
  }
  return dpkgComponents({ statusFiles, copyrightFiles, ...(distro ? { distro } : {}) });
}

/** One SBOM file of the CNB SBOM layer (`layers/sbom/launch/<bp>[/<layer>]/sbom.<ext>`). */
export interface CnbSbomFile {
  /** Path as in the layer, without a leading slash. */
  path: string;
  /** `launch/<bp>/<layer>/sbom.cdx.json` etc.: the part `pack sbom download` writes under `layers/sbom/`. */
  relative: string;
  buildpack: string;
  layer?: string;
  ext: 'cdx.json' | 'spdx.json' | 'syft.json';
  bytes: Buffer;
}

/** The CNB SBOM layer of an app image (the layer whose diffID is `sbom.sha` in the lifecycle label), or undefined. */
export function cnbSbomLayer(image: Image): Layer | undefined {
  const diffId = lifecycleLabel(image)?.sbomDiffId;
  return diffId ? image.layerByDiffId(diffId as never) : undefined;
}

/** The files of the CNB SBOM layer; empty when the image has none. */
export async function cnbSbomFiles(image: Image, what = 'image'): Promise<CnbSbomFile[]> {
  const layer = cnbSbomLayer(image);
  if (!layer) return [];
  const files = await tarFiles(await layer.uncompressed(), isCnbSbomPath, `${what} SBOM layer`);
  return cnbSbomFilesOf(files);
}

const CNB_SBOM_PATH = /(?:^|\/)sbom\/(launch\/(.+)\/sbom\.(cdx\.json|spdx\.json|syft\.json))$/;
const isCnbSbomPath = (path: string): boolean => CNB_SBOM_PATH.test(path);

/**
 * The CNB SBOM files among `files` (path in the SBOM layer, without a leading slash → contents), in order of
 * their `relative` path: what `cnbSbomFiles` finds in the layer, for a caller that packed the layer itself.
 */
export function cnbSbomFilesOf(files: Iterable<readonly [string, Buffer]>): CnbSbomFile[] {
  const out: CnbSbomFile[] = [];
  for (const [path, bytes] of files) {
    const m = CNB_SBOM_PATH.exec(path);
    if (!m) continue;
    const parts = m[2]!.split('/');
    out.push({ path, relative: m[1]!, buildpack: parts[0]!, ...(parts[1] ? { layer: parts.slice(1).join('/') } : {}), ext: m[3] as CnbSbomFile['ext'], bytes });
  }
  return out.sort((a, b) => (a.relative < b.relative ? -1 : 1));
}

/**
 * Components of the buildpacks' SBOM files, CycloneDX and SPDX (a layer often has both: the same packages
 * written twice count once, merged by purl, and a package only one of them lists is not lost; the SPDX file
 * also carries the text of LicenseRefs a CycloneDX expression only names). Syft's own format is not read.
 */
export function buildpackComponents(files: readonly CnbSbomFile[]): Component[] {
  const out: Component[] = [];
  const ordered = files.filter((f) => f.ext !== 'syft.json').sort((a, b) => (a.ext === b.ext ? 0 : a.ext === 'cdx.json' ? -1 : 1));
  for (const f of ordered) {
    let doc: unknown;
    try {
      doc = JSON.parse(f.bytes.toString('utf8'));
    } catch (err) {
      throw new InvalidContentError(`/${f.path}: not JSON: ${(err as Error).message}`, { cause: err });
    }
    if (!formatOf(doc)) throw new InvalidContentError(`/${f.path}: neither a CycloneDX nor an SPDX document`);
    out.push(...documentComponents(doc, { buildpack: f.buildpack, ...(f.layer ? { layer: f.layer } : {}), path: `/${f.path}` }));
  }
  return out;
}

/**
 * Where OS package lists are kept between runs, by a key of what they are read from (see osPackagesKey):
 * reading the run image's layers again costs a few hundred milliseconds of every rebuild for the same answer.
 */
export interface OsPackagesCache {
  get(key: string): Promise<Component[] | undefined>;
  put(key: string, components: Component[]): Promise<void>;
}

/** What osPackages of these layers depends on: their diffIDs and the distro labels of the image. */
export function osPackagesKey(image: Image, layers: readonly Layer[]): string {
  const labels = image.config.config?.Labels ?? {};
  return createHash('sha256')
    .update(JSON.stringify({ layers: layers.map((l) => l.diffId), distro: [labels['io.buildpacks.base.distro.name'] ?? '', labels['io.buildpacks.base.distro.version'] ?? ''] }))
    .digest('hex');
}

async function cachedOsPackages(image: Image, what: string, cache: OsPackagesCache | undefined): Promise<Component[]> {
  const layers = runImageLayers(image);
  if (!cache) return osPackages(image, layers, what);
  const key = osPackagesKey(image, layers);
  const hit = await cache.get(key);
  if (hit) return hit;
  const found = await osPackages(image, layers, what);
  await cache.put(key, found);
  return found;
}

/**
 * The image SBOM of `image`: the run image's OS packages plus every buildpack SBOM in its CNB SBOM layer.
 * With `osCache`, the OS packages of run image layers seen before are taken from it. `sbomFiles`: the CNB SBOM
 * layer's files when the caller has them (the export that packed the layer), instead of reading the layer.
 */
export async function collectImageSbom(image: Image, name: string, what = name, osCache?: OsPackagesCache, sbomFiles?: readonly CnbSbomFile[]): Promise<Sbom> {
  const os = await cachedOsPackages(image, what, osCache);
  const bp = buildpackComponents(sbomFiles ?? (await cnbSbomFiles(image, what)));
  const platform = image.config.os && image.config.architecture ? `${image.config.os}/${image.config.architecture}` : undefined;
  return {
    subject: { name, digest: image.descriptor.digest, created: image.config.created ?? '1980-01-01T00:00:01Z', ...(platform ? { platform } : {}) },
    components: mergeComponents(os, bp),
  };
}
