import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LayerError,
  checkId,
  normalizedFileMode,
  tarPathOf,
  type DirectoryMapping,
  type LayerEntry,
  type LayerSpec,
  type WriteSettings,
} from './spec.js';

/** One tar entry, fully decided: name without leading `/`, normalized mode and owner. */
export interface PlannedEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link';
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content (files only; 0 otherwise). */
  size: number;
  /** Symlink target, or the tar name a hard link points at. */
  linkname?: string;
  /** File content given as bytes. */
  content?: Uint8Array;
  /** File content read from this host file. */
  source?: string;
  /** Where the entry came from, for messages: a host path or `entry /image/path`. */
  origin: string;
}

interface Candidate extends PlannedEntry {
  implied: boolean;
  /** `dev:ino` of a walked file with more than one link. */
  inode?: string;
  /** Explicit hard link: the tar name of its target. */
  linkTarget?: string;
}

/**
 * Turns a spec into the exact entry list of the layer: walked trees and explicit entries merged, parent
 * directories implied, hard links resolved to their bytewise-first path, sorted bytewise by name.
 */
export async function planLayer(spec: LayerSpec, settings: WriteSettings): Promise<PlannedEntry[]> {
  const byName = new Map<string, Candidate>();
  const add = (c: Candidate): void => {
    const prior = byName.get(c.name);
    if (prior !== undefined && !prior.implied) {
      throw new LayerError('USAGE', `layer path /${c.name} is given twice (${prior.origin} and ${c.origin})`);
    }
    byName.set(c.name, c);
  };

  for (const mapping of spec.directories ?? []) await walkMapping(mapping, settings, add);
  for (const entry of spec.entries ?? []) add(await explicitCandidate(entry, settings));

  addParents(byName, settings);
  resolveHardlinks(byName);

  const sorted = [...byName.values()].map((c) => ({ c, key: Buffer.from(c.name, 'utf8') }));
  sorted.sort((a, b) => Buffer.compare(a.key, b.key));
  return sorted.map(({ c }) => {
    const { implied: _i, inode: _n, linkTarget: _t, ...entry } = c;
    return entry;
  });
}

/** Entries listed between two turns of the event loop in `walkMapping`. */
const WALK_SLICE = 2000;

async function walkMapping(mapping: DirectoryMapping, settings: WriteSettings, add: (c: Candidate) => void): Promise<void> {
  const root = tarPathOf(mapping.target, `directory ${mapping.source}`);
  const uid = mapping.uid ?? settings.uid;
  const gid = mapping.gid ?? settings.gid;
  checkId(uid, 'uid', `directory ${mapping.source}`);
  checkId(gid, 'gid', `directory ${mapping.source}`);
  let top: BigIntStats;
  try {
    top = await lstat(mapping.source, { bigint: true });
  } catch (err) {
    throw ioError(err, `directory ${mapping.source}`);
  }
  if (!top.isDirectory()) throw new LayerError('USAGE', `layer source ${mapping.source} is not a directory`);
  if (root !== '') add({ ...dir(root, uid, gid, mapping.source), implied: false });

  // Synchronous calls, like the tree walks (lifecycle/cache/restored-trees.ts): an lstat through the thread
  // pool costs several times the call itself, and a layer of node_modules has thousands of entries. The event
  // loop gets a turn every WALK_SLICE entries, so uploads and other layers running alongside keep moving.
  let sinceYield = 0;
  const walk = async (hostDir: string, rel: string): Promise<void> => {
    let names: Buffer[];
    try {
      names = readdirSync(hostDir, { encoding: 'buffer' });
    } catch (err) {
      throw ioError(err, `directory ${hostDir}`);
    }
    const decoded = names.map((raw) => utf8Name(raw, hostDir));
    const stats = decoded.map((name) => {
      const host = join(hostDir, name);
      try {
        return lstatSync(host, { bigint: true });
      } catch (err) {
        throw ioError(err, `file ${host}`);
      }
    });
    sinceYield += decoded.length;
    if (sinceYield >= WALK_SLICE) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < decoded.length; i++) {
      const name = decoded[i] as string;
      const st = stats[i] as BigIntStats;
      const host = join(hostDir, name);
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const tarName = root === '' ? relPath : `${root}/${relPath}`;
      const mode = Number(st.mode & 0o7777n);
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : undefined;
      if (type === undefined) {
        if (settings.specialFiles === 'skip') continue;
        throw new LayerError('UNSUPPORTED', `layer source ${host} is a ${specialKind(st)}; only files, directories and symlinks can go into a layer`);
      }
      if (mapping.filter && !mapping.filter(relPath, { type, mode })) continue;
      if (type === 'dir') {
        add({ ...dir(tarName, uid, gid, host), implied: false });
        await walk(host, relPath);
      } else if (type === 'symlink') {
        add({ name: tarName, type: 'symlink', mode: 0o777, uid, gid, size: 0, linkname: await linkTargetOf(host), origin: host, implied: false });
      } else {
        const c: Candidate = { name: tarName, type: 'file', mode: normalizedFileMode(mode), uid, gid, size: Number(st.size), source: host, origin: host, implied: false };
        if (st.nlink > 1n) c.inode = `${st.dev}:${st.ino}`;
        add(c);
      }
    }
  };
  await walk(mapping.source, '');
}

async function explicitCandidate(entry: LayerEntry, settings: WriteSettings): Promise<Candidate> {
  const origin = `entry ${entry.path}`;
  const name = tarPathOf(entry.path, origin);
  if (name === '') throw new LayerError('USAGE', `${origin}: the root directory cannot be a layer entry`);
  const uid = entry.uid ?? settings.uid;
  const gid = entry.gid ?? settings.gid;
  checkId(uid, 'uid', origin);
  checkId(gid, 'gid', origin);
  switch (entry.type) {
    case 'dir':
      return { ...dir(name, uid, gid, origin), mode: checkMode(entry.mode ?? 0o755, origin), implied: false };
    case 'symlink':
      if (entry.target === '' || entry.target.includes('\0')) throw new LayerError('USAGE', `${origin}: symlink target must be a non-empty string`);
      return { name, type: 'symlink', mode: 0o777, uid, gid, size: 0, linkname: entry.target, origin, implied: false };
    case 'hardlink':
      return { name, type: 'link', mode: 0o644, uid, gid, size: 0, linkTarget: tarPathOf(entry.target, origin), origin, implied: false };
    case 'file': {
      if ((entry.content === undefined) === (entry.source === undefined)) {
        throw new LayerError('USAGE', `${origin}: a file entry needs exactly one of content and source`);
      }
      if (entry.content !== undefined) {
        const content = typeof entry.content === 'string' ? Buffer.from(entry.content, 'utf8') : entry.content;
        const mode = checkMode(entry.mode ?? 0o644, origin);
        return { name, type: 'file', mode, uid, gid, size: content.byteLength, content, origin, implied: false };
      }
      const source = entry.source as string;
      let st: BigIntStats;
      try {
        st = await stat(source, { bigint: true });
      } catch (err) {
        throw ioError(err, `file ${source} (${origin})`);
      }
      if (!st.isFile()) throw new LayerError('USAGE', `${origin}: source ${source} is not a regular file`);
      const mode = checkMode(entry.mode ?? normalizedFileMode(Number(st.mode & 0o777n)), origin);
      return { name, type: 'file', mode, uid, gid, size: Number(st.size), source, origin: source, implied: false };
    }
  }
}

function addParents(byName: Map<string, Candidate>, settings: WriteSettings): void {
  for (const c of [...byName.values()]) {
    let cut = c.name.lastIndexOf('/');
    while (cut > 0) {
      const parent = c.name.slice(0, cut);
      const existing = byName.get(parent);
      if (existing !== undefined) {
        if (existing.type !== 'directory') {
          throw new LayerError('USAGE', `layer path /${c.name} (${c.origin}) is below /${parent}, which is a ${existing.type} (${existing.origin})`);
        }
        break; // its own parents are added (or checked) when the loop reaches it
      }
      byName.set(parent, { ...dir(parent, settings.parentUid, settings.parentGid, `parent of ${c.origin}`), implied: true });
      cut = parent.lastIndexOf('/');
    }
  }
}

/** Groups hard-linked paths; the bytewise-first path carries the content, the others link to it. */
function resolveHardlinks(byName: Map<string, Candidate>): void {
  const parent = new Map<string, string>();
  const find = (n: string): string => {
    let r = n;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    parent.set(n, r);
    return r;
  };
  const union = (a: string, b: string): void => {
    for (const n of [a, b]) if (!parent.has(n)) parent.set(n, n);
    parent.set(find(a), find(b));
  };
  const byInode = new Map<string, string>();
  for (const c of byName.values()) {
    if (c.inode !== undefined) {
      const first = byInode.get(c.inode);
      if (first === undefined) byInode.set(c.inode, c.name);
      else union(first, c.name);
    }
    if (c.type !== 'link') continue;
    let target = c;
    const seen = new Set<string>();
    while (target.type === 'link') {
      if (seen.has(target.name)) throw new LayerError('USAGE', `hard link ${c.origin} is part of a cycle`);
      seen.add(target.name);
      const next = byName.get(target.linkTarget as string);
      if (next === undefined) throw new LayerError('USAGE', `hard link ${c.origin} points at /${target.linkTarget}, which is not in the layer`);
      target = next;
    }
    if (target.type !== 'file') throw new LayerError('USAGE', `hard link ${c.origin} points at /${target.name}, which is a ${target.type}, not a file`);
    union(c.name, target.name);
  }
  const groups = new Map<string, Candidate[]>();
  for (const n of parent.keys()) {
    const root = find(n);
    const list = groups.get(root) ?? [];
    list.push(byName.get(n) as Candidate);
    groups.set(root, list);
  }
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const file = members.find((m) => m.type === 'file') as Candidate;
    members.sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
    const first = members[0] as Candidate;
    const { name: _n, origin: _o, implied: _i, inode: _ino, linkTarget: _lt, ...body } = file;
    byName.set(first.name, { ...body, name: first.name, origin: first.origin, implied: false });
    for (const other of members.slice(1)) {
      byName.set(other.name, {
        name: other.name, type: 'link', mode: file.mode, uid: file.uid, gid: file.gid, size: 0,
        linkname: first.name, origin: other.origin, implied: false,
      });
    }
  }
}

function dir(name: string, uid: number, gid: number, origin: string): PlannedEntry {
  return { name, type: 'directory', mode: 0o755, uid, gid, size: 0, origin };
}

function checkMode(mode: number, origin: string): number {
  if (!Number.isInteger(mode) || mode <= 0 || mode > 0o7777) {
    throw new LayerError('USAGE', `${origin}: mode ${mode.toString(8)} must be between 1 and 07777 (octal)`);
  }
  return mode;
}

function utf8Name(raw: Buffer, hostDir: string): string {
  const name = raw.toString('utf8');
  if (!Buffer.from(name, 'utf8').equals(raw)) {
    throw new LayerError('UNSUPPORTED', `file name ${JSON.stringify(name)} in ${hostDir} is not valid UTF-8`);
  }
  return name;
}

async function linkTargetOf(host: string): Promise<string> {
  try {
    const raw = readlinkSync(host, { encoding: 'buffer' });
    const target = raw.toString('utf8');
    if (!Buffer.from(target, 'utf8').equals(raw)) throw new LayerError('UNSUPPORTED', `symlink ${host} has a target that is not valid UTF-8`);
    return target;
  } catch (err) {
    if (err instanceof LayerError) throw err;
    throw ioError(err, `symlink ${host}`);
  }
}

function specialKind(st: BigIntStats): string {
  if (st.isSocket()) return 'socket';
  if (st.isFIFO()) return 'FIFO';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

export function ioError(err: unknown, what: string, action = 'read'): LayerError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = code ?? (err instanceof Error ? err.message : String(err));
  return new LayerError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot ${action} ${what}: ${reason}`, err);
}
