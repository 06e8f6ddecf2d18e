import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  ANNOTATION_REF_NAME, Digester, InvalidContentError, LadingError, MediaType, NotFoundError, UnsupportedError, digestOf,
  hexOf, isRecord, parseJson, parseManifest, stableJsonBytes,
  type ContentSink, type ContentSource, type Descriptor, type Digest, type FetchedManifest, type ImageManifest,
} from '../oci/index.js';
import {
  INDEX_FILE, OCI_LAYOUT_BYTES, OCI_LAYOUT_FILE, emptyIndex, openLayoutDir, openLayoutSink, selectByReference,
  type EntryName, type LayoutSource,
} from '../layout/index.js';
import { familiarName, withDefaultTag, type DockerArchiveReference, type RegistryReference } from '../reference.js';
import { StagedArchiveSink, checkDestination, renamed, unpackArchive, type ArchiveOptions } from './archive-staging.js';
import {
  ANNOTATION_IMAGE_NAME, MANIFEST_JSON, REPOSITORIES, familiarRepository, fullName, normalizeRepoTag, parseDockerManifestJson,
  withArchiveEntry, type DockerArchiveEntry,
} from './docker-manifest.js';
import { UnpackedSource } from './oci-archive.js';
import { extractTar, pathInside } from './tar-files.js';

const MAX_CONFIG_BYTES = 8 << 20;

function locationOf(ref: DockerArchiveReference): string {
  return `docker-archive:${ref.path}${ref.name ? `:${familiarName(withDefaultTag(ref.name))}` : ''}`;
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
const blobRel = (d: Digest): string => `blobs/sha256/${hexOf(d)}`;
const clean = (p: string): string => p.replace(/^(\.\/)+/, '');

/**
 * Reads a `docker save` archive. The image is picked from manifest.json by name (or the only one). When
 * the archive also holds an OCI layout (Docker ≥25, and lading's own archives) and one of its manifests
 * has exactly that config and those layers, that manifest is served byte for byte, so the digest survives
 * the round trip. Otherwise (skopeo, older Docker) a Docker schema2 manifest is synthesized from
 * manifest.json, as skopeo does — except that layer files are served as stored (gzip stays gzip).
 */
export async function openDockerArchiveSource(ref: DockerArchiveReference, options: ArchiveOptions = {}): Promise<ContentSource> {
  const root = await unpackArchive(ref.path, options, 'docker-archive');
  try {
    return await openUnpacked(root, ref);
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw renamed(err, root, ref.path);
  }
}

async function openUnpacked(root: string, ref: DockerArchiveReference): Promise<ContentSource> {
  const location = locationOf(ref);
  const hasLayout = (await exists(join(root, OCI_LAYOUT_FILE))) && (await exists(join(root, INDEX_FILE)));
  if (!(await exists(join(root, MANIFEST_JSON)))) {
    if (!hasLayout) throw new InvalidContentError(`${ref.path} is not a docker-archive (it has no ${MANIFEST_JSON})`);
    const layout = await openLayoutDir(root, location, ref.name ? selectByName(ref.name) : selectByReference(undefined, undefined));
    return new UnpackedSource(layout, root, ref.path);
  }
  const entries = parseDockerManifestJson(await readFile(join(root, MANIFEST_JSON)), `${ref.path} ${MANIFEST_JSON}`);
  const entry = chooseEntry(entries, ref, location);
  const layout = hasLayout ? await openLayoutDir(root, location, async () => { throw new LadingError('INTERNAL', 'unused'); }) : undefined;
  const original = layout ? await originalManifest(layout, entry) : undefined;
  const image = original ?? (await synthesize(root, entry, `${ref.path} ${MANIFEST_JSON}`));
  return new DockerArchiveSource(location, root, image, layout);
}

function selectByName(name: RegistryReference) {
  const wanted = familiarName(withDefaultTag(name));
  return async (layout: LayoutSource): Promise<Descriptor> => {
    const found = layout.index.manifests.find((e) => {
      const n = e.annotations?.[ANNOTATION_IMAGE_NAME];
      return n !== undefined && normalizeRepoTag(n) === wanted;
    });
    if (!found) throw new NotFoundError(`${layout.location}: no image named "${wanted}"`);
    return found;
  };
}

function chooseEntry(entries: DockerArchiveEntry[], ref: DockerArchiveReference, location: string): DockerArchiveEntry {
  const names = entries.flatMap((e) => e.RepoTags.map(normalizeRepoTag));
  const listing = names.length ? `it has ${names.join(', ')}` : 'it has no named images';
  if (ref.name) {
    const wanted = familiarName(withDefaultTag(ref.name));
    const found = entries.find((e) => e.RepoTags.some((t) => normalizeRepoTag(t) === wanted));
    if (!found) throw new NotFoundError(`${location}: no image named "${wanted}" (${listing})`);
    return found;
  }
  if (entries.length === 1) return entries[0] as DockerArchiveEntry;
  if (entries.length === 0) throw new NotFoundError(`${location}: the archive holds no images`);
  throw new LadingError('USAGE', `${location}: the archive holds ${entries.length} images; name one (${listing})`);
}

interface ArchiveImage {
  desc: Descriptor;
  bytes: Buffer;
  /** Blob digest → path of the file holding it (relative to the archive root). */
  files: Map<Digest, string>;
}

/** The manifest of the archive's OCI layout whose config and layers are exactly the entry's files, if any. */
async function originalManifest(layout: LayoutSource, entry: DockerArchiveEntry): Promise<ArchiveImage | undefined> {
  const config = clean(entry.Config);
  const layers = entry.Layers.map(clean);
  const visit = async (descs: Descriptor[], depth: number): Promise<ArchiveImage | undefined> => {
    for (const d of descs) {
      const parsed = await layout.parsedEntry(d);
      if (!parsed) continue;
      if (parsed.kind === 'index') {
        const found = depth < 2 ? await visit(parsed.manifest.manifests, depth + 1) : undefined;
        if (found) return found;
        continue;
      }
      const m = parsed.manifest;
      if (blobRel(m.config.digest) !== config || m.layers.length !== layers.length) continue;
      if (!m.layers.every((l, i) => blobRel(l.digest) === layers[i])) continue;
      const fetched = await layout.manifest(d.digest, parsed.mediaType);
      return { desc: { mediaType: parsed.mediaType, digest: d.digest, size: fetched.bytes.byteLength }, bytes: fetched.bytes, files: new Map() };
    }
    return undefined;
  };
  return visit(layout.index.manifests, 0);
}

/** A Docker schema2 manifest for an entry of manifest.json, from the files as stored. */
async function synthesize(root: string, entry: DockerArchiveEntry, what: string): Promise<ArchiveImage> {
  const files = new Map<Digest, string>();
  const configPath = await pathInside(root, entry.Config, what);
  const configBytes = await readFile(configPath);
  if (configBytes.byteLength > MAX_CONFIG_BYTES) throw new InvalidContentError(`${what}: config ${entry.Config} is too large`);
  const configDigest = digestOf(configBytes);
  files.set(configDigest, configPath);
  const layers: Descriptor[] = [];
  for (const rel of entry.Layers) {
    const path = await pathInside(root, rel, what);
    const { digest, size, magic } = await measureFile(path);
    if (magic.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) {
      throw new UnsupportedError(`${what}: layer ${rel} is zstd-compressed, which a Docker schema2 manifest cannot describe`);
    }
    const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
    layers.push({ mediaType: gzip ? MediaType.DockerLayerGzip : MediaType.DockerLayer, digest, size });
    files.set(digest, path);
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: configDigest, size: configBytes.byteLength },
    layers,
  };
  const bytes = stableJsonBytes(manifest);
  return { desc: { mediaType: MediaType.DockerManifest, digest: digestOf(bytes), size: bytes.byteLength }, bytes, files };
}

async function measureFile(path: string): Promise<{ digest: Digest; size: number; magic: Buffer }> {
  const d = new Digester();
  let magic = Buffer.alloc(0);
  for await (const chunk of createReadStream(path)) {
    if (magic.byteLength < 4) magic = Buffer.concat([magic, chunk as Buffer]).subarray(0, 4);
    d.update(chunk as Buffer);
  }
  return { digest: d.digest(), size: d.size, magic };
}

class DockerArchiveSource implements ContentSource {
  constructor(
    readonly location: string,
    private readonly root: string,
    private readonly image: ArchiveImage,
    private readonly layout: LayoutSource | undefined,
  ) {}

  async resolve(): Promise<Descriptor> {
    return this.image.desc;
  }

  async manifest(digest: Digest, mediaTypeHint?: string): Promise<FetchedManifest> {
    if (digest === this.image.desc.digest) return { bytes: this.image.bytes, mediaType: this.image.desc.mediaType, digest };
    if (this.layout) return this.layout.manifest(digest, mediaTypeHint);
    throw new NotFoundError(`${this.location}: no manifest ${digest}`);
  }

  async blob(desc: Descriptor): Promise<Readable> {
    const path = this.image.files.get(desc.digest);
    if (path) {
      const fh = await open(path, 'r');
      return fh.createReadStream();
    }
    if (this.layout) return this.layout.blob(desc);
    throw new NotFoundError(`${this.location}: blob ${desc.digest} is not in the archive`);
  }

  async referrers(subject: Digest): Promise<Descriptor[]> {
    return this.layout ? this.layout.referrers(subject) : [];
  }

  async close(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/**
 * Writes a docker-archive that `docker load` reads (manifest.json with Config/RepoTags/Layers, and the
 * legacy `repositories` file) laid out as Docker ≥25 does: an OCI layout whose blobs manifest.json points
 * at. Blobs and manifests are stored as they are — gzip layers stay compressed (docker load and skopeo
 * decompress them) and an OCI manifest stays OCI — so reading the archive back gives the same digest.
 * Writing into an existing archive keeps its other images; this name moves to the new image.
 */
export async function openDockerArchiveSink(ref: DockerArchiveReference, options: ArchiveOptions = {}): Promise<ContentSink> {
  const { exists: existed, version } = await checkDestination(ref.path);
  const staging = await unpackArchive(undefined, options, 'docker-archive');
  const layoutDir = join(staging, 'layout');
  const location = locationOf(ref);
  try {
    if (existed) await extractTar(ref.path, layoutDir);
    else await mkdir(layoutDir);
    // Archives from skopeo or older Docker have no layout yet: start one beside their files.
    if (!(await exists(join(layoutDir, OCI_LAYOUT_FILE)))) await writeFile(join(layoutDir, OCI_LAYOUT_FILE), OCI_LAYOUT_BYTES);
    if (!(await exists(join(layoutDir, INDEX_FILE)))) await writeFile(join(layoutDir, INDEX_FILE), stableJsonBytes(emptyIndex()));
    const name = ref.name ? withDefaultTag(ref.name) : undefined;
    const familiar = name ? familiarName(name) : undefined;
    const entryName: EntryName | undefined = name && {
      annotations: { [ANNOTATION_IMAGE_NAME]: fullName(name), [ANNOTATION_REF_NAME]: name.tag ?? 'latest' },
      sameName: (e) => {
        const n = e.annotations?.[ANNOTATION_IMAGE_NAME];
        return n !== undefined && normalizeRepoTag(n) === familiar;
      },
    };
    const inner = await openLayoutSink({ transport: 'oci', path: layoutDir }, { location, ...(entryName ? { name: entryName } : {}) });
    let tagged: ImageManifest | undefined;
    return new StagedArchiveSink(inner, staging, layoutDir, ref.path, version, {
      async onManifest(bytes, mediaType, opts) {
        if (!opts.tag) return undefined;
        const parsed = parseManifest(bytes, `${location} manifest ${digestOf(bytes)}`, mediaType);
        if (parsed.kind === 'index') {
          throw new UnsupportedError(`${location}: a docker-archive holds single-platform images, not an index (pick a platform instead of --all)`);
        }
        return () => {
          tagged = parsed.manifest;
        };
      },
      async beforePack() {
        if (!tagged) return;
        await writeDockerFiles(layoutDir, tagged, name, `${ref.path} ${MANIFEST_JSON}`);
      },
    });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw renamed(err, layoutDir, ref.path);
  }
}

/** Adds the image to manifest.json and `repositories` (what docker load reads). */
async function writeDockerFiles(dir: string, manifest: ImageManifest, name: RegistryReference | undefined, what: string): Promise<void> {
  const manifestFile = join(dir, MANIFEST_JSON);
  const before = (await exists(manifestFile)) ? parseDockerManifestJson(await readFile(manifestFile), what) : [];
  const entry: DockerArchiveEntry = {
    Config: blobRel(manifest.config.digest),
    RepoTags: name ? [familiarName(name)] : [],
    Layers: manifest.layers.map((l) => blobRel(l.digest)),
  };
  await writeFile(manifestFile, JSON.stringify(withArchiveEntry(before, entry)));
  const top = manifest.layers.at(-1);
  if (!name || !top) return;
  const reposFile = join(dir, REPOSITORIES);
  let repos: Record<string, Record<string, string>> = {};
  if (await exists(reposFile)) {
    try {
      const doc = parseJson(await readFile(reposFile), reposFile);
      if (isRecord(doc)) repos = doc as Record<string, Record<string, string>>;
    } catch {
      // a broken legacy file is replaced; docker load only reads it when manifest.json is missing
    }
  }
  const repo = familiarRepository(name);
  repos[repo] = { ...(isRecord(repos[repo]) ? repos[repo] : {}), [name.tag ?? 'latest']: hexOf(top.digest) };
  await writeFile(reposFile, JSON.stringify(repos));
}
