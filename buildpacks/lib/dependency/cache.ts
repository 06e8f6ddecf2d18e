import { readdir, stat } from 'node:fs/promises';
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
 * recorded (read again unless the file is provably the one hashed before: same inode, size, mtime and ctime);
 * otherwise the layer is cleared and the source downloads and verifies again.
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
  if (!reused && fetched) {
    layer.metadata['verified'] = await fileStamp(fetched.path);
    return fetched;
  }
  const recorded = layer.metadata['file'];
  const file = typeof recorded === 'string' ? join(layer.path, recorded) : undefined;
  const present = typeof recorded === 'string' ? (await readdir(layer.path).catch((): string[] => [])).includes(recorded) : false;
  // The file was hashed when its stamp was recorded; the same inode with the same size, mtime and ctime has
  // not been written since (ctime cannot be set back), so it is not read again. A file unpacked anew is.
  const stamp = present && file ? await fileStamp(file) : undefined;
  const trusted = stamp !== undefined && stamp === layer.metadata['verified'] && typeof layer.metadata['sha256'] === 'string';
  const sha256 = trusted ? (layer.metadata['sha256'] as string) : present && file ? (await hashFile(file, ['sha256'])).sha256 : undefined;
  if (file && sha256 && sha256 === layer.metadata['sha256']) {
    if (stamp) layer.metadata['verified'] = stamp;
    return { ...description, path: file, sha256 };
  }
  logger.warn(`cached download of ${name} ${version} in layer ${layerName} is damaged; downloading again`);
  layer.metadata = {};
  await layer.reset();
  fetched = await source.fetch(name, version, layer.path);
  layer.metadata = { ...expected, file: fetched.path.slice(layer.path.length + 1), sha256: fetched.sha256, verified: await fileStamp(fetched.path) };
  return fetched;
}

/** Identity and last change of a file: device, inode, size, mtime and ctime (ns). */
async function fileStamp(file: string): Promise<string> {
  const st = await stat(file, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
