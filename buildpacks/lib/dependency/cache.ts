import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { contributeLayer } from '../contributor.js';
import type { Layers } from '../layer.js';
import type { Logger } from '../logger.js';
import { hashFile } from './integrity.js';
import type { DependencySource, FetchedDependency } from './source.js';

export interface CachedFetchOptions {
  /** The cache layer's name; default `download-<name>`. */
  layerName?: string;
}

/** A layer name from a dependency name (`@scope/pkg` → `download-scope-pkg`). */
export function downloadLayerName(name: string): string {
  return `download-${name.replace(/^@/, '').replace(/[^A-Za-z0-9._-]+/g, '-')}`;
}

/**
 * Fetches a dependency through a `cache=true` layer keyed by (name, version, checksum, source): the layer
 * contributor reuses the restored download when the key matches and the file's sha256 is still what was
 * recorded; otherwise the layer is cleared and the source downloads and verifies again.
 */
export async function fetchCached(
  layers: Layers,
  source: DependencySource,
  name: string,
  version: string,
  logger: Logger,
  opts: CachedFetchOptions = {},
): Promise<FetchedDependency> {
  const layerName = opts.layerName ?? downloadLayerName(name);
  const description = await source.describe(name, version);
  const expected = { name, version, checksum: description.checksum, source: source.kind };
  let fetched: FetchedDependency | undefined;
  const { layer, reused } = await contributeLayer(
    layers,
    layerName,
    {
      types: { cache: true },
      expected,
      build: async (l) => {
        logger.info(`  Downloading ${name} ${version} (${source.kind}: ${description.uri})`);
        fetched = await source.fetch(name, version, l.path);
        l.metadata['file'] = fetched.path.slice(l.path.length + 1);
        l.metadata['sha256'] = fetched.sha256;
      },
    },
    logger,
  );
  if (!reused && fetched) return fetched;
  const recorded = layer.metadata['file'];
  const file = typeof recorded === 'string' ? join(layer.path, recorded) : undefined;
  const present = typeof recorded === 'string' ? (await readdir(layer.path).catch((): string[] => [])).includes(recorded) : false;
  const sha256 = present && file ? (await hashFile(file, ['sha256'])).sha256 : undefined;
  if (file && sha256 && sha256 === layer.metadata['sha256']) return { ...description, path: file, sha256 };
  logger.warn(`cached download of ${name} ${version} in layer ${layerName} is damaged; downloading again`);
  layer.metadata = {};
  await layer.reset();
  fetched = await source.fetch(name, version, layer.path);
  layer.metadata = { ...expected, file: fetched.path.slice(layer.path.length + 1), sha256: fetched.sha256 };
  return fetched;
}
