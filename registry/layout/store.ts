import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ANNOTATION_REF_NAME, LadingError, NotFoundError, parseConfig, parseManifest, stableJsonBytes,
  type ContentSink, type ContentSource, type Descriptor, type Digest,
} from '../oci/index.js';
import { familiarName, parseRegistryReference, withDefaultTag, type RegistryReference, type StoreReference } from '../reference.js';
import { withoutEntries, type EntryName } from './index-entries.js';
import { INDEX_FILE, emptyIndex, readLayoutIndex, refNameOf, writeFileAtomic } from './layout-dir.js';
import { openLayoutSink, LOCK_FILE } from './layout-sink.js';
import { LayoutSource, openLayoutDir } from './layout-source.js';
import { withFileLock, type FileLockOptions } from './lock.js';

export interface StoreOptions extends FileLockOptions {
  /** The store's home directory. Default: `$LADING_HOME`, else `$XDG_DATA_HOME/lading`, else `~/.local/share/lading`. */
  home?: string;
  /** Environment to read those variables from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** One named image of the local store, as `lading images` lists it. */
export interface StoreImage {
  /** Familiar name with tag (`myapp:latest`, `127.0.0.1:5000/app:v1`). */
  name: string;
  digest: Digest;
  mediaType: string;
  /** The config's `created`, when the image has one (indexes have none). */
  created?: string;
  /** Manifest + config + layer bytes (for an index: itself and every child image present). */
  size: number;
}

export function storeHome(options: StoreOptions = {}): string {
  if (options.home) return resolve(options.home);
  const env = options.env ?? process.env;
  if (env.LADING_HOME) return resolve(env.LADING_HOME);
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return resolve(data, 'lading');
}

/** The OCI layout holding the store's images. Unreferenced blobs stay there until a prune (not yet written). */
export function storeLayoutDir(options: StoreOptions = {}): string {
  return join(storeHome(options), 'store');
}

/** The name an image is stored under: familiar form, `latest` when untagged. */
export function storeName(ref: RegistryReference): string {
  return familiarName(withDefaultTag({ ...ref, digest: undefined } as RegistryReference));
}

/** An index.json name in store form; names other tools wrote (`docker.io/library/x:latest`) compare equal. */
function normalizedName(refName: string | undefined): string | undefined {
  if (refName === undefined) return undefined;
  try {
    return storeName(parseRegistryReference(refName));
  } catch {
    return refName;
  }
}

function repositoryOf(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  try {
    const r = parseRegistryReference(name);
    return `${r.registry}/${r.repository}`;
  } catch {
    return undefined;
  }
}

export async function openStoreSource(ref: StoreReference, options: StoreOptions = {}): Promise<ContentSource> {
  const dir = storeLayoutDir(options);
  const wanted = familiarName(withDefaultTag(ref.name));
  const location = `local store ${wanted}`;
  // A store not created yet is an empty store: the caller may fall back to a registry on NOT_FOUND from resolve().
  if (!(await stat(dir).catch(() => undefined))) return new LayoutSource(dir, location, emptyIndex(), async (l) => select(l, ref.name));
  return openLayoutDir(dir, location, async (l) => select(l, ref.name));
}

async function select(layout: LayoutSource, name: RegistryReference): Promise<Descriptor> {
  const entries = layout.index.manifests;
  const repo = `${name.registry}/${name.repository}`;
  const wanted = familiarName(withDefaultTag(name));
  let found: Descriptor | undefined;
  if (name.digest) {
    found = entries.find((e) => e.digest === name.digest && repositoryOf(refNameOf(e)) === repo
      && (name.tag === undefined || normalizedName(refNameOf(e)) === storeName(name)));
  } else {
    found = entries.find((e) => normalizedName(refNameOf(e)) === storeName(name));
  }
  if (found) return found;
  const sameRepo = entries.map((e) => normalizedName(refNameOf(e))).filter((n) => n !== undefined && repositoryOf(n) === repo);
  const hint = sameRepo.length ? ` (the store has ${sameRepo.join(', ')})` : ' (`lading images` lists what it has)';
  throw new NotFoundError(`no image "${wanted}" in the local store${hint}`);
}

export async function openStoreSink(ref: StoreReference, options: StoreOptions = {}): Promise<ContentSink> {
  if (ref.name.digest) {
    throw new LadingError('USAGE', `cannot store an image under a digest ("${familiarName(ref.name)}"); give a name and tag`);
  }
  const name = storeName(ref.name);
  const entryName: EntryName = {
    annotations: { [ANNOTATION_REF_NAME]: name },
    sameName: (e) => normalizedName(refNameOf(e)) === name,
  };
  return openLayoutSink({ transport: 'oci', path: storeLayoutDir(options), tag: name }, {
    ...options, location: `local store ${name}`, name: entryName,
  });
}

/** The named images of the store, sorted by name. An empty or missing store lists nothing. */
export async function listStoreImages(options: StoreOptions = {}): Promise<StoreImage[]> {
  const dir = storeLayoutDir(options);
  let layout: LayoutSource;
  try {
    layout = await openLayoutDir(dir, `local store ${dir}`, async () => {
      throw new LadingError('INTERNAL', 'listing does not resolve');
    });
  } catch (err) {
    if (err instanceof NotFoundError) return [];
    throw err;
  }
  const out: StoreImage[] = [];
  for (const entry of layout.index.manifests) {
    const name = normalizedName(refNameOf(entry));
    if (name === undefined) continue; // referrers and other untagged entries
    // A damaged entry is still listed (with the size index.json gives) so `lading images` shows it and rmi can remove it.
    const details = await describe(layout, entry).catch(() => ({ size: entry.size }));
    out.push({ name, digest: entry.digest, mediaType: entry.mediaType, ...details });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function describe(layout: LayoutSource, entry: Descriptor): Promise<{ created?: string; size: number }> {
  const blobs = new Map<Digest, number>();
  let created: string | undefined;
  const walk = async (desc: Descriptor, top: boolean): Promise<void> => {
    blobs.set(desc.digest, desc.size);
    const m = await layout.manifest(desc.digest, desc.mediaType);
    const parsed = parseManifest(m.bytes, `${layout.location} manifest ${desc.digest}`, m.mediaType);
    if (parsed.kind === 'index') {
      for (const child of parsed.manifest.manifests) await walk(child, false).catch(() => {}); // absent platforms count 0
      return;
    }
    for (const d of [parsed.manifest.config, ...parsed.manifest.layers]) blobs.set(d.digest, d.size);
    if (top) {
      const config = parseConfig(await layout.readBlob(parsed.manifest.config.digest, 8 << 20, `${layout.location} config`), `${layout.location} config`);
      created = config.created;
    }
  };
  await walk(entry, true);
  const size = [...blobs.values()].reduce((a, b) => a + b, 0);
  return created === undefined ? { size } : { created, size };
}

/**
 * Removes a name from the store (and the referrers of its manifest when no other name keeps it).
 * Blobs stay until a prune. Returns the descriptor the name pointed at.
 */
export async function removeStoreImage(nameOrRef: string | RegistryReference, options: StoreOptions = {}): Promise<Descriptor> {
  const ref = typeof nameOrRef === 'string' ? parseRegistryReference(nameOrRef) : nameOrRef;
  const name = storeName(ref);
  const dir = storeLayoutDir(options);
  if (!(await stat(dir).catch(() => undefined))) throw new NotFoundError(`no image "${name}" in the local store (${dir} does not exist)`);
  return withFileLock(join(dir, LOCK_FILE), async () => {
      const index = await readLayoutIndex(dir);
      const removed = index.manifests.find((e) => normalizedName(refNameOf(e)) === name);
      if (!removed) throw new NotFoundError(`no image "${name}" in the local store`);
      let next = withoutEntries(index, (e) => normalizedName(refNameOf(e)) === name);
      if (!next.manifests.some((e) => e.digest === removed.digest)) {
        const layout = new LayoutSource(dir, `local store ${name}`, next, async () => removed);
        const orphans = new Set((await layout.referrers(removed.digest)).map((d) => d.digest));
        next = withoutEntries(next, (e) => refNameOf(e) === undefined && orphans.has(e.digest));
      }
      await writeFileAtomic(join(dir, INDEX_FILE), stableJsonBytes(next));
      return removed;
    }, options);
}
