import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * lading's extension of the layer contract (docs/lifecycle.md "Layer content keys"). A buildpack that fills a
 * layer only from inputs that fix its bytes (downloads verified against a checksum, its own program, the
 * layer's path) may say so in `<layers>/<layer>.lading-content.json`: the key naming those inputs and the
 * layer directory's tree state right after it was filled. When the directory is still in that state at
 * export, a trusting platform may take the layer's diffID from an earlier build with the same key, and its
 * compressed blob from its own cache, instead of reading and hashing the same 120 MB again. Other platforms
 * ignore the file; it is never part of the image.
 */
export const CONTENT_MARKER_SUFFIX = '.lading-content.json';

/** The marker's version; the lifecycle reads only this one. */
export const CONTENT_MARKER_VERSION = 1;

export interface ContentMarker {
  version: number;
  /** sha256 (hex) of everything the layer's bytes depend on (see `contentKey`). */
  key: string;
  /** `treeState` of the layer directory when it was sealed. */
  state: string;
}

/**
 * What a directory tree looks like on disk: a sha256 over every entry's relative path, mode, size,
 * `dev:ino`, mtime and ctime (nanoseconds; left out for the root and for files with more than one link), in
 * sorted order. Any write, chmod, rename, added or removed entry changes it (ctime cannot be set back by a
 * user; a replaced file has a new inode; a file linked elsewhere too is held by inode, size and mtime). The
 * same definition as the lifecycle's `treeState` (lifecycle/cache/restored-trees.ts): the two sides of the
 * contract compute it independently, and test/layer-content-contract.test.ts holds them equal.
 */
export function treeState(dir: string): string | undefined {
  const hash = createHash('sha256');
  const visit = (path: string, rel: string): boolean => {
    let st;
    try {
      st = lstatSync(path, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    // ctime neither for the root (a rename sets it) nor for a file linked elsewhere too (the platform's layer
    // tree store: any link or unlink anywhere sets it).
    const ctime = rel === '' || (st.nlink > 1n && !st.isDirectory()) ? '' : `${st.ctimeNs}`;
    hash.update(`${rel}\0${st.mode}\0${st.size}\0${st.dev}:${st.ino}\0${st.mtimeNs}\0${ctime}\n`);
    if (st.isDirectory()) {
      for (const name of readdirSync(path).sort()) visit(join(path, name), rel === '' ? name : `${rel}/${name}`);
    }
    return true;
  };
  return visit(dir, '') ? hash.digest('hex') : undefined;
}

const programDigests = new Map<string, Promise<string | undefined>>();

/**
 * sha256 (hex) of the buildpack's program: every file under `<buildpack>/bin`, by relative path and
 * contents (lading's buildpacks are bundled there whole). Any change to the code that fills a layer changes
 * the content keys it gives. Undefined when there is no readable `bin/`.
 */
export function programDigest(buildpackDir: string): Promise<string | undefined> {
  let digest = programDigests.get(buildpackDir);
  if (!digest) {
    digest = (async () => {
      const hash = createHash('sha256');
      const visit = async (dir: string, rel: string): Promise<void> => {
        const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const e of entries) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) await visit(join(dir, e.name), r);
          else if (e.isFile()) {
            const bytes = await readFile(join(dir, e.name));
            hash.update(`${r}\0${bytes.length}\0`).update(bytes);
          }
        }
      };
      try {
        await visit(join(buildpackDir, 'bin'), '');
        return hash.digest('hex');
      } catch {
        return undefined;
      }
    })();
    programDigests.set(buildpackDir, digest);
  }
  return digest;
}

/** Stable JSON: object keys sorted at every level. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The key of a layer's contents: sha256 (hex) of the stable JSON of its inputs. */
export function contentKey(inputs: Record<string, unknown>): string {
  return createHash('sha256').update(stableJson({ marker: CONTENT_MARKER_VERSION, ...inputs })).digest('hex');
}

/** `<layer dir>.lading-content.json`. */
export const contentMarkerPath = (layerDir: string): string => `${layerDir}${CONTENT_MARKER_SUFFIX}`;

/** Seals `layerDir` as holding the contents of `key`: records its tree state now. */
export async function writeContentMarker(layerDir: string, key: string): Promise<void> {
  const state = treeState(layerDir);
  if (state === undefined) return;
  const marker: ContentMarker = { version: CONTENT_MARKER_VERSION, key, state };
  await writeFile(contentMarkerPath(layerDir), `${JSON.stringify(marker)}\n`);
}

export async function removeContentMarker(layerDir: string): Promise<void> {
  await rm(contentMarkerPath(layerDir), { force: true });
}

/**
 * lading's layer tree store (docs/lifecycle.md "Layer tree store"): before the build, a trusting platform may
 * offer the tree of a sealed layer an earlier build on the machine made, hard-linked into
 * `<layers>/.lading-offers/<key>/` with `<key>.json` holding that layer's `[metadata]`. A buildpack about to
 * fill a layer with the same content key may take it (one rename) instead of downloading and unpacking again.
 * Other platforms offer nothing; the platform removes what was not taken after the build.
 */
export const OFFERS_DIR = '.lading-offers';
/** The format of `<key>.json` (the lifecycle's lifecycle/phase/create/layer-trees.ts writes it). */
const OFFER_VERSION = 1;

/**
 * Moves the tree offered for `key` to `layerPath` (an empty directory or none) and returns the `[metadata]` it
 * was built with; undefined when nothing usable is offered (then `layerPath` is left as it was).
 */
export async function takeOfferedTree(layersDir: string, key: string, layerPath: string): Promise<Record<string, unknown> | undefined> {
  const base = join(layersDir, OFFERS_DIR, key);
  let offer: unknown;
  try {
    offer = JSON.parse(await readFile(`${base}.json`, 'utf8'));
  } catch {
    return undefined;
  }
  const o = offer as { version?: unknown; key?: unknown; metadata?: unknown };
  if (o?.version !== OFFER_VERSION || o.key !== key || !o.metadata || typeof o.metadata !== 'object' || Array.isArray(o.metadata)) return undefined;
  try {
    await rm(layerPath, { recursive: true, force: true });
    await rename(base, layerPath);
  } catch {
    await mkdir(layerPath, { recursive: true });
    return undefined;
  }
  return o.metadata as Record<string, unknown>;
}
