import { copyFile, mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { BuildpackError } from '../errors.js';
import { isTable, type TomlTable } from '../toml-file.js';
import { DownloadStore } from './download-store.js';
import { downloadFile, trustingDispatcher } from './http.js';
import { verifyFile } from './integrity.js';
import type { DependencyDescription, DependencySource, FetchedDependency } from './source.js';

/** One catalog entry: a URL (https, http or file) and its sha256, for mirrors and upstream tarballs. */
export interface CatalogEntry {
  name: string;
  version: string;
  uri: string;
  /** Hex sha256 of the file at `uri`. */
  sha256: string;
  purl?: string;
  cpe?: string;
  licenses?: string[];
}

/** A tarball named by `<PREFIX>_DIST_URI` and `<PREFIX>_DIST_SHA256`, with the file name its URL ends in. */
export interface DistOverride {
  uri: string;
  /** Lower-case hex. */
  sha256: string;
  fileName: string;
}

/**
 * The user's own tarball for a catalog dependency (design.md §8): `<prefix>_DIST_URI` and
 * `<prefix>_DIST_SHA256` (e.g. `BP_JVM`), both or neither, an https, http or file URL and a hex sha256.
 * Undefined when neither is set; a CONFIG error naming the variables otherwise.
 */
export function distOverride(prefix: string, uri: string | undefined, sha256: string | undefined): DistOverride | undefined {
  const u = uri?.trim();
  const sha = sha256?.trim();
  if (!u && !sha) return undefined;
  if (!u || !sha || !/^[0-9a-f]{64}$/i.test(sha)) {
    throw new BuildpackError('CONFIG', `${prefix}_DIST_URI and ${prefix}_DIST_SHA256 go together: a URL (https, http or file) and the hex sha256 of the file`);
  }
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new BuildpackError('CONFIG', `${prefix}_DIST_URI ${u}: not a URL (https:, http: or file:)`);
  }
  if (!['https:', 'http:', 'file:'].includes(parsed.protocol)) throw new BuildpackError('CONFIG', `${prefix}_DIST_URI ${u}: unsupported scheme ${parsed.protocol} (https, http or file)`);
  return { uri: u, sha256: sha.toLowerCase(), fileName: basename(decodeURIComponent(parsed.pathname)) };
}

/**
 * Reads `[[metadata.dependencies]]` of buildpack.toml (libpak's shape: id, version, uri, sha256, purl,
 * cpes, licenses = [{type}] — or `name`, `cpe`, `licenses = ["MIT"]`).
 */
export function catalogFromMetadata(metadata: TomlTable, file = 'buildpack.toml'): CatalogEntry[] {
  const deps = metadata['dependencies'] ?? [];
  if (!Array.isArray(deps)) throw new BuildpackError('CONTRACT', `${file}: metadata.dependencies must be an array of tables`);
  return deps.map((d, i) => {
    const where = `${file}: metadata.dependencies[${i}]`;
    if (!isTable(d)) throw new BuildpackError('CONTRACT', `${where} is not a table`);
    const name = d['id'] ?? d['name'];
    const sha = typeof d['sha256'] === 'string' ? d['sha256'] : typeof d['checksum'] === 'string' ? d['checksum'].replace(/^sha256:/, '') : undefined;
    if (typeof name !== 'string' || typeof d['version'] !== 'string' || typeof d['uri'] !== 'string' || !sha || !/^[0-9a-f]{64}$/i.test(sha)) {
      throw new BuildpackError('CONTRACT', `${where} needs id (or name), version, uri and a hex sha256`);
    }
    const e: CatalogEntry = { name, version: d['version'], uri: d['uri'], sha256: sha.toLowerCase() };
    if (typeof d['purl'] === 'string') e.purl = d['purl'];
    const cpe = typeof d['cpe'] === 'string' ? d['cpe'] : Array.isArray(d['cpes']) && typeof d['cpes'][0] === 'string' ? d['cpes'][0] : undefined;
    if (cpe) e.cpe = cpe;
    if (Array.isArray(d['licenses'])) {
      e.licenses = d['licenses'].map((l) => (typeof l === 'string' ? l : isTable(l) && typeof l['type'] === 'string' ? l['type'] : '')).filter(Boolean);
    }
    return e;
  });
}

export interface CatalogSourceOptions {
  entries: readonly CatalogEntry[];
  dispatcher?: Dispatcher;
  /** Verified downloads shared between builds (default: the platform's, DOWNLOAD_STORE_ENV). */
  downloads?: DownloadStore;
}

/** Dependencies listed with URL + sha256 (design.md §8): a mirror, an upstream tarball, a file on disk. */
export class CatalogSource implements DependencySource {
  readonly kind = 'catalog';
  readonly #entries: readonly CatalogEntry[];
  readonly #downloads: DownloadStore | undefined;
  readonly #dispatcher: Dispatcher | undefined;

  constructor(opts: CatalogSourceOptions) {
    this.#entries = opts.entries;
    this.#dispatcher = opts.dispatcher;
    this.#downloads = opts.downloads ?? DownloadStore.fromEnv(process.env);
  }

  async versions(name: string): Promise<string[]> {
    return [...new Set(this.#entries.filter((e) => e.name === name).map((e) => e.version))];
  }

  #entry(name: string, version: string): CatalogEntry {
    const e = this.#entries.find((x) => x.name === name && x.version === version);
    if (!e) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `the catalog has no ${name} ${version}`);
    return e;
  }

  async describe(name: string, version: string): Promise<DependencyDescription> {
    const e = this.#entry(name, version);
    const d: DependencyDescription = {
      name,
      version,
      checksum: `sha256:${e.sha256}`,
      uri: e.uri,
      purl: e.purl ?? `pkg:generic/${encodeURIComponent(name)}@${encodeURIComponent(version)}?download_url=${encodeURIComponent(e.uri)}`,
      licenses: e.licenses ?? [],
      source: this.kind,
    };
    if (e.cpe) d.cpe = e.cpe;
    return d;
  }

  async fetch(name: string, version: string, dir: string): Promise<FetchedDependency> {
    const d = await this.describe(name, version);
    await mkdir(dir, { recursive: true });
    const url = new URL(d.uri);
    const file = join(dir, basename(decodeURIComponent(url.pathname)) || `${name}-${version}`);
    const what = `${name} ${version} from the catalog`;
    const expected = { algorithm: 'sha256', hex: d.checksum.slice('sha256:'.length) } as const;
    let remote = false;
    if (url.protocol === 'file:') {
      await copyFile(fileURLToPath(url), file).catch((err: Error) => {
        throw new BuildpackError('DEPENDENCY_FETCH', `${what}: cannot copy ${fileURLToPath(url)}: ${err.message}`, { cause: err });
      });
    } else if (url.protocol === 'https:' || url.protocol === 'http:') {
      const kept = await this.#downloads?.take(expected, file, what);
      if (kept) return { ...d, path: file, sha256: kept, fromStore: true };
      await downloadFile(d.uri, file, { dispatcher: this.#dispatcher ?? (await trustingDispatcher()), what });
      remote = true;
    } else {
      throw new BuildpackError('DEPENDENCY_FETCH', `${what}: unsupported URI scheme ${url.protocol}`);
    }
    try {
      const sha256 = await verifyFile(file, expected, what);
      if (remote) await this.#downloads?.keep(expected, file);
      return { ...d, path: file, sha256 };
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }
}
