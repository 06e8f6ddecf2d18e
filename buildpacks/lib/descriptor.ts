import { join } from 'node:path';
import { BuildpackError } from './errors.js';
import { isTable, readTomlFile, type TomlTable } from './toml-file.js';

/** SBOM formats by the file extension the spec gives them (buildpack.md "Software-Bill-of-Materials"). */
export const SBOM_MEDIA_TYPES = {
  'cdx.json': 'application/vnd.cyclonedx+json',
  'spdx.json': 'application/spdx+json',
  'syft.json': 'application/vnd.syft+json',
} as const;
export type SbomExtension = keyof typeof SBOM_MEDIA_TYPES;

/** What the SDK needs from `buildpack.toml`. */
export interface BuildpackDescriptor {
  /** The buildpack root (CNB_BUILDPACK_DIR). */
  dir: string;
  api: string;
  id: string;
  version: string;
  name: string;
  homepage?: string;
  /** Declared SBOM media types; the SDK writes only these. */
  sbomFormats: string[];
  /** The free-form `[metadata]` table. */
  metadata: TomlTable;
}

/** Reads `<dir>/buildpack.toml`; a missing or malformed file is a clear error naming the path. */
export async function readBuildpackDescriptor(dir: string): Promise<BuildpackDescriptor> {
  const file = join(dir, 'buildpack.toml');
  const doc = await readTomlFile(file);
  if (!doc) throw new BuildpackError('CONTRACT', `${file} not found (CNB_BUILDPACK_DIR=${dir})`);
  const bp = doc['buildpack'];
  if (!isTable(bp)) throw new BuildpackError('CONTRACT', `${file}: missing [buildpack] table`);
  const str = (v: unknown, key: string): string => {
    if (typeof v !== 'string' || v === '') throw new BuildpackError('CONTRACT', `${file}: ${key} must be a non-empty string`);
    return v;
  };
  const formats = bp['sbom-formats'] ?? [];
  if (!Array.isArray(formats) || formats.some((f) => typeof f !== 'string')) {
    throw new BuildpackError('CONTRACT', `${file}: buildpack.sbom-formats must be an array of strings`);
  }
  const out: BuildpackDescriptor = {
    dir,
    api: str(doc['api'], 'api'),
    id: str(bp['id'], 'buildpack.id'),
    version: str(bp['version'], 'buildpack.version'),
    name: typeof bp['name'] === 'string' ? bp['name'] : str(bp['id'], 'buildpack.id'),
    sbomFormats: formats as string[],
    metadata: isTable(doc['metadata']) ? doc['metadata'] : {},
  };
  if (typeof bp['homepage'] === 'string') out.homepage = bp['homepage'];
  return out;
}
