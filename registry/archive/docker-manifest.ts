import { InvalidContentError, isRecord, parseJson } from '../oci/index.js';
import { familiarName, parseRegistryReference, withDefaultTag, type RegistryReference } from '../reference.js';

/** One image of a `docker save` archive's manifest.json. */
export interface DockerArchiveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
  [key: string]: unknown;
}

export const MANIFEST_JSON = 'manifest.json';
export const REPOSITORIES = 'repositories';
/** The annotation Docker ≥25 and containerd put on index.json entries: the full image name. */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';

export function parseDockerManifestJson(bytes: Uint8Array, file: string): DockerArchiveEntry[] {
  const doc = parseJson(bytes, file);
  if (!Array.isArray(doc)) throw new InvalidContentError(`${file}: expected a JSON array of images`);
  return doc.map((e, i) => {
    const what = `${file}[${i}]`;
    if (!isRecord(e) || typeof e.Config !== 'string') throw new InvalidContentError(`${what}: needs a string "Config"`);
    if (!Array.isArray(e.Layers) || e.Layers.some((l) => typeof l !== 'string')) throw new InvalidContentError(`${what}: "Layers" must be an array of paths`);
    const tags = e.RepoTags ?? [];
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw new InvalidContentError(`${what}: "RepoTags" must be an array of names`);
    return { ...e, Config: e.Config, Layers: e.Layers as string[], RepoTags: tags as string[] };
  });
}

/** A RepoTags name in familiar form with a tag (`docker.io/library/x` → `x:latest`); unparsable names stay as they are. */
export function normalizeRepoTag(name: string): string {
  try {
    return familiarName(withDefaultTag(parseRegistryReference(name)));
  } catch {
    return name;
  }
}

/** `docker.io/library/x:latest` for index.json's io.containerd.image.name. */
export function fullName(ref: RegistryReference): string {
  const r = withDefaultTag(ref);
  return `${r.registry}/${r.repository}:${r.tag ?? 'latest'}`;
}

/** The familiar repository without tag (`x`, `127.0.0.1:5000/app`), the key of the legacy `repositories` file. */
export function familiarRepository(ref: RegistryReference): string {
  return familiarName({ ...ref, tag: undefined, digest: undefined } as RegistryReference);
}

/**
 * manifest.json after adding an image under `name` (or untagged): the name leaves every other entry
 * (entries left without names are dropped, unless they never had one), and an entry for the same
 * config and layers gains the name instead of being duplicated.
 */
export function withArchiveEntry(entries: DockerArchiveEntry[], entry: DockerArchiveEntry): DockerArchiveEntry[] {
  const names = new Set(entry.RepoTags.map(normalizeRepoTag));
  const out: DockerArchiveEntry[] = [];
  let merged = false;
  for (const e of entries) {
    const kept = e.RepoTags.filter((t) => !names.has(normalizeRepoTag(t)));
    const same = e.Config === entry.Config && e.Layers.join('\n') === entry.Layers.join('\n');
    if (same) {
      out.push({ ...e, RepoTags: [...kept, ...entry.RepoTags] });
      merged = true;
    } else if (kept.length > 0 || e.RepoTags.length === 0) {
      out.push({ ...e, RepoTags: kept });
    }
  }
  if (!merged) out.push(entry);
  return out;
}
