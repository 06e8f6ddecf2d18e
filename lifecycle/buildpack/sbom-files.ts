import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LadingError } from '../../registry/oci/index.js';
import type { LayerTypes } from './layer-metadata.js';

/** SBOM media types a buildpack may declare and the file extension each uses (buildpack.md "Software-Bill-of-Materials"). */
export const SBOM_MEDIA_TYPES: ReadonlyMap<string, string> = new Map([
  ['application/vnd.cyclonedx+json', 'cdx.json'],
  ['application/spdx+json', 'spdx.json'],
  ['application/vnd.syft+json', 'syft.json'],
]);

const MEDIA_TYPE_BY_EXT = new Map([...SBOM_MEDIA_TYPES].map(([type, ext]) => [ext, type]));

/** Where an SBOM file belongs: in the app image (launch), the build report (build), or the cache. */
export type SbomScope = 'launch' | 'build' | 'cache';

export interface SbomFile {
  /** Path of the file the buildpack wrote. */
  path: string;
  /** The layer it describes; undefined for `launch.sbom.<ext>` / `build.sbom.<ext>`. */
  layer?: string;
  scope: SbomScope;
  mediaType: string;
  /** `cdx.json`, `spdx.json` or `syft.json`. */
  ext: string;
}

const SBOM_NAME_RE = /^([^.]+)\.sbom\.(.+)$/;

/** Names in a buildpack's layers dir that are SBOM files (`*.sbom.*.json`), sorted. */
export async function listSbomFileNames(bpLayersDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(bpLayersDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LadingError('IO', `${bpLayersDir}: cannot list SBOM files: ${(err as Error).message}`, { cause: err });
  }
  return names.filter((n) => SBOM_NAME_RE.test(n) && n.endsWith('.json')).sort();
}

/**
 * Classifies a buildpack's SBOM files and checks each against its declared `sbom-formats`. A layer SBOM goes
 * to `launch` if the layer is a launch layer, else `build`, and additionally to `cache` for cache layers; an
 * SBOM for a layer that has no `<layer>.toml` is dropped (as the Go lifecycle does). Throws BUILD naming the
 * file for an unknown extension or a media type the buildpack did not declare.
 */
export function classifySbomFiles(
  bpLayersDir: string,
  fileNames: readonly string[],
  layers: ReadonlyMap<string, LayerTypes>,
  bp: { id: string; sbomFormats: readonly string[] },
): SbomFile[] {
  const declared = new Set(bp.sbomFormats.map((f) => f.split(';')[0]!.trim()));
  const out: SbomFile[] = [];
  for (const name of [...fileNames].sort()) {
    const m = SBOM_NAME_RE.exec(name);
    if (!m) continue;
    const [, owner, ext] = m as unknown as [string, string, string];
    const path = join(bpLayersDir, name);
    const mediaType = MEDIA_TYPE_BY_EXT.get(ext);
    if (!mediaType) {
      throw new LadingError('BUILD', `${path}: unsupported SBOM format "${ext}" (expected ${[...MEDIA_TYPE_BY_EXT.keys()].join(', ')})`);
    }
    if (!declared.has(mediaType)) {
      throw new LadingError(
        'BUILD',
        `${path}: SBOM media type ${mediaType} is not declared in sbom-formats of buildpack ${bp.id}`,
      );
    }
    if (owner === 'launch' || owner === 'build') {
      out.push({ path, scope: owner, mediaType, ext });
      continue;
    }
    const types = layers.get(owner);
    if (!types) continue;
    out.push({ path, layer: owner, scope: types.launch ? 'launch' : 'build', mediaType, ext });
    if (types.cache) out.push({ path, layer: owner, scope: 'cache', mediaType, ext });
  }
  return out;
}

/** `<bp id>` with `/` replaced by `_`, as used for directory names under `<layers>`. */
export function escapeBuildpackId(id: string): string {
  return id.replaceAll('/', '_');
}

/** Where the lifecycle keeps an SBOM file, relative to `<layers>` (platform.md: `sbom/<scope>/<bp>/[<layer>/]sbom.<ext>`). */
export function sbomDestination(file: SbomFile, bpId: string): string {
  const parts = ['sbom', file.scope, escapeBuildpackId(bpId)];
  if (file.layer !== undefined) parts.push(file.layer);
  parts.push(`sbom.${file.ext}`);
  return parts.join('/');
}
