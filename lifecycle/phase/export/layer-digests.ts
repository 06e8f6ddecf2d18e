import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keepFile } from '../../../registry/keep-file.js';
import { TAR_FORMAT_VERSION } from '../../../registry/layers/index.js';
import type { Digest } from '../../../registry/oci/index.js';
import { treeStateAndShape } from '../../cache/index.js';

/**
 * Layer content markers (docs/lifecycle.md "Layer content keys"; the buildpack side is
 * buildpacks/lib/layer-content.ts): `<layers>/<bp>/<layer>.lading-content.json` holds a key naming everything
 * the layer's bytes depend on and the directory's tree state when the buildpack sealed it. A directory still in
 * that state holds those bytes, so the tar the exporter would pack from it is the one an earlier build with the
 * same key, shape and tar settings packed: its diffID is kept in a memo directory (LADING_HOME/cache/
 * layer-digests) and the compressed blob in the layer-blob cache, and the 100+ MB tree is neither read nor
 * hashed again. Only for trusted buildpacks: the key is the buildpack's word.
 */
export const CONTENT_MARKER_SUFFIX = '.lading-content.json';
const CONTENT_MARKER_VERSION = 1;

/** A well-formed content marker: the buildpack's key and the tree state it sealed. */
export interface ContentMarker {
  key: string;
  state: string;
}

/** The content marker beside `layerDir`, undefined when there is none or it is malformed. */
export async function readContentMarker(layerDir: string): Promise<ContentMarker | undefined> {
  let marker: unknown;
  try {
    marker = JSON.parse(await readFile(`${layerDir}${CONTENT_MARKER_SUFFIX}`, 'utf8'));
  } catch {
    return undefined;
  }
  const m = marker as { version?: unknown; key?: unknown; state?: unknown };
  if (m?.version !== CONTENT_MARKER_VERSION || typeof m.key !== 'string' || !/^[0-9a-f]{64}$/.test(m.key) || typeof m.state !== 'string') return undefined;
  return { key: m.key, state: m.state };
}

/**
 * Records `state` as the sealed state of `layerDir`, whose content is unchanged but whose tree state moved (the
 * layer tree store linked its files: their change times no longer count).
 */
export async function restateContentMarker(layerDir: string, marker: ContentMarker, state: string): Promise<void> {
  await writeFile(`${layerDir}${CONTENT_MARKER_SUFFIX}`, `${JSON.stringify({ version: CONTENT_MARKER_VERSION, key: marker.key, state })}\n`);
}

/** How the exporter packs a layer directory: everything besides the tree that shapes the tar. */
export interface TarPlacement {
  imagePath: string;
  uid: number;
  gid: number;
}

export interface SealedLayer {
  /** The memo entry's name. */
  memoKey: string;
  /** The directory's tree state (checked equal to the sealed one). */
  state: string;
}

export interface RememberedDigest {
  diffId: Digest;
  /** The tar's size. */
  size: number;
}

/**
 * The memo key of `layerDir` when its buildpack sealed it and it is unchanged since (same tree state), else
 * undefined (no marker, a malformed one, or a directory changed after sealing).
 */
export async function sealedLayer(layerDir: string, tar: TarPlacement): Promise<SealedLayer | undefined> {
  const m = await readContentMarker(layerDir);
  if (!m) return undefined;
  const tree = treeStateAndShape(layerDir);
  if (!tree || tree.state !== m.state) return undefined;
  const memoKey = createHash('sha256')
    .update(JSON.stringify({ tar: TAR_FORMAT_VERSION, content: m.key, shape: tree.shape, path: tar.imagePath, owner: `${tar.uid}:${tar.gid}` }))
    .digest('hex');
  return { memoKey, state: tree.state };
}

const memoFile = (dir: string, key: string) => join(dir, `${key}.json`);

/** The diffID remembered for `key`, if any (a damaged entry is removed). */
export async function recallDigest(dir: string, key: string): Promise<RememberedDigest | undefined> {
  let text: string;
  try {
    text = await readFile(memoFile(dir, key), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as { key?: unknown; diffId?: unknown; size?: unknown };
    if (v.key === key && typeof v.diffId === 'string' && /^sha256:[0-9a-f]{64}$/.test(v.diffId) && typeof v.size === 'number' && Number.isSafeInteger(v.size)) {
      return { diffId: v.diffId as Digest, size: v.size };
    }
  } catch {
    // damaged: dropped below
  }
  await rm(memoFile(dir, key), { force: true }).catch(() => undefined);
  return undefined;
}

/** Remembers the diffID packed for `key`. The memo only saves time: failures are ignored. */
export async function rememberDigest(dir: string, key: string, value: RememberedDigest): Promise<void> {
  await keepFile(memoFile(dir, key), `${JSON.stringify({ key, diffId: value.diffId, size: value.size })}\n`);
}
