import { readFile } from 'node:fs/promises';
import type { LayerEntry } from '../../registry/layers/index.js';
import { posix } from 'node:path';
import { MERGED_DIRS, type DebEntry, type ExtractedDeb } from './deb.js';
import { ExcludeSet } from './exclude.js';
import { StackError, type StackDefinition, type StackImage } from './stack-file.js';

export const STATUS_DIR = '/var/lib/dpkg/status.d';
export const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const CA_SOURCE_DIR = '/usr/share/ca-certificates/';

const root = { uid: 0, gid: 0 };

/** The package's control file as a dpkg status record (`Status: install ok installed` after `Package`). */
export function statusRecord(control: string): string {
  const lines = control.replace(/\n+$/, '').split('\n').filter((l) => !l.startsWith('Status:'));
  const at = lines.findIndex((l) => l.startsWith('Package:'));
  lines.splice(at + 1, 0, 'Status: install ok installed');
  return `${lines.join('\n')}\n`;
}

function passwd(stack: StackDefinition, shell: string): string {
  const u = stack.user;
  return [
    'root:x:0:0:root:/root:/usr/sbin/nologin',
    `${u.name}:x:${u.uid}:${u.gid}:${u.name}:/home/${u.name}:${shell}`,
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    '',
  ].join('\n');
}

function group(stack: StackDefinition): string {
  const u = stack.user;
  return ['root:x:0:', `${u.name}:x:${u.gid}:`, 'nogroup:x:65534:', ''].join('\n');
}

const NSSWITCH = 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\nethers: files\nrpc: files\n';

/** The CA bundle update-ca-certificates would write: every certificate under /usr/share/ca-certificates, sorted by path. */
async function caBundle(files: Map<string, DebEntry>): Promise<string | undefined> {
  const certs = [...files.values()]
    .filter((e): e is Extract<DebEntry, { type: 'file' }> => e.type === 'file' && e.path.startsWith(CA_SOURCE_DIR) && e.path.endsWith('.crt'))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  if (certs.length === 0) return undefined;
  const parts: string[] = [];
  for (const c of certs) {
    const pem = (await readFile(c.source, 'utf8')).replace(/\r\n/g, '\n');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new StackError('CONTENT_INVALID', `${c.path} is not a PEM certificate`);
    parts.push(pem.endsWith('\n') ? pem : `${pem}\n`);
  }
  return parts.join('');
}

export interface ImageTree {
  entries: LayerEntry[];
  /** Installed packages: name → version. */
  packages: Record<string, string>;
  files: number;
  /** Package entries (files, links, directories) left out by the image's `exclude` patterns. */
  excluded: number;
}

const COPYRIGHT_RE = /^\/usr\/share\/doc\/[^/]+\/copyright$/;

/**
 * Removes the entries `image.exclude` names from `byPath` (after the CA bundle was made from them) and
 * returns how many. Each pattern must leave out something; none may take a copyright file (the OS SBOM
 * reads licences from them) or the target of a link that stays.
 */
function applyExclude(stack: StackDefinition, image: StackImage, byPath: Map<string, DebEntry>): number {
  if (image.exclude.length === 0) return 0;
  const set = new ExcludeSet(image.exclude);
  const key = (i: number) => `${stack.file}: images.${image.name}.exclude[${i}] "${image.exclude[i]}"`;
  const removed = new Map<string, number>();
  for (const path of byPath.keys()) {
    const i = set.match(path);
    if (i < 0) continue;
    if (COPYRIGHT_RE.test(path)) {
      throw new StackError('CONTENT_INVALID', `${key(i)} would leave out ${path}: copyright files stay (the OS SBOM reads licences from them)`);
    }
    removed.set(path, i);
  }
  const unused = image.exclude.findIndex((_, i) => ![...removed.values()].includes(i));
  if (unused >= 0) throw new StackError('CONTENT_INVALID', `${key(unused)} matches no file of the image's packages`);
  for (const path of removed.keys()) byPath.delete(path);
  for (const e of byPath.values()) {
    if (e.type !== 'symlink') continue;
    const target = posix.resolve(posix.dirname(e.path), e.target);
    for (let p = target; p !== '/'; p = posix.dirname(p)) {
      const i = removed.get(p);
      if (i !== undefined) {
        throw new StackError('CONTENT_INVALID', `${key(i)} leaves out ${p}, but the link ${e.path} → ${e.target} stays; exclude the link too`);
      }
    }
  }
  return removed.size;
}

/**
 * The root filesystem of one stack image as layer entries: the packages' files (later packages win a
 * clash, in name order), merged-/usr links, /tmp 1777, home and passwd/group with the stack user, the
 * CA bundle, nsswitch.conf when no package ships one, and a dpkg record + md5sums per package. The
 * image's `exclude` patterns then leave package files out: the bundle is made first, the dpkg records stay,
 * and the md5sums lists name only the files the image holds.
 */
export async function imageTree(stack: StackDefinition, image: StackImage, debs: readonly ExtractedDeb[]): Promise<ImageTree> {
  const byPath = new Map<string, DebEntry>();
  const packages: Record<string, string> = {};
  const ordered = [...debs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const topLinks = new Set<string>(MERGED_DIRS.map((d) => `/${d}`));
  for (const deb of ordered) {
    packages[deb.name] = /^Version:\s*(\S+)/m.exec(deb.control)?.[1] ?? '';
    for (const e of deb.entries) {
      if (topLinks.has(e.path)) continue; // a package's own /lib64 link or dir: the merged links below replace it
      const had = byPath.get(e.path);
      if (had?.type === 'dir' && e.type === 'dir') continue;
      if (had && (had.type === 'dir') !== (e.type === 'dir')) {
        throw new StackError('CONTENT_INVALID', `image ${image.name}: ${e.path} is a directory in one package and a file in ${deb.name}`);
      }
      byPath.set(e.path, e);
    }
  }
  const generated: LayerEntry[] = [];
  const claim = (path: string) => {
    byPath.delete(path);
    return path;
  };
  const has = (p: string) => byPath.has(p);
  // Generated from package files, so made before `exclude` may remove those files.
  const bundle = await caBundle(byPath);
  const excluded = applyExclude(stack, image, byPath);
  const hasShell = has('/usr/bin/sh') || has('/usr/bin/bash');
  for (const d of ['/usr', '/usr/bin', '/usr/sbin', '/usr/lib', '/etc', '/var', '/var/lib', '/var/lib/dpkg', STATUS_DIR, '/home']) {
    if (!has(d)) generated.push({ type: 'dir', path: d, mode: 0o755, ...root });
  }
  for (const d of MERGED_DIRS) {
    if (d === 'bin' || d === 'sbin' || d === 'lib' || [...byPath.keys()].some((p) => p.startsWith(`/usr/${d}/`))) {
      generated.push({ type: 'symlink', path: `/${d}`, target: `usr/${d}`, ...root });
    }
  }
  const u = stack.user;
  generated.push(
    { type: 'dir', path: claim('/tmp'), mode: 0o1777, ...root },
    { type: 'dir', path: claim('/root'), mode: 0o700, ...root },
    { type: 'dir', path: claim(`/home/${u.name}`), mode: 0o755, uid: u.uid, gid: u.gid },
    { type: 'file', path: claim('/etc/passwd'), content: passwd(stack, hasShell ? '/bin/sh' : '/usr/sbin/nologin'), mode: 0o644, ...root },
    { type: 'file', path: claim('/etc/group'), content: group(stack), mode: 0o644, ...root },
  );
  if (!has('/etc/nsswitch.conf')) generated.push({ type: 'file', path: '/etc/nsswitch.conf', content: NSSWITCH, mode: 0o644, ...root });
  if (bundle !== undefined) {
    for (const d of ['/etc/ssl', '/etc/ssl/certs']) if (!has(d)) generated.push({ type: 'dir', path: d, mode: 0o755, ...root });
    generated.push({ type: 'file', path: claim(CA_BUNDLE), content: bundle, mode: 0o644, ...root });
  }
  for (const deb of ordered) {
    generated.push({ type: 'file', path: `${STATUS_DIR}/${deb.name}`, content: statusRecord(deb.control), mode: 0o644, ...root });
    const sums = deb.entries
      .filter((e): e is Extract<DebEntry, { type: 'file' }> => e.type === 'file' && byPath.get(e.path) === e)
      .map((e) => `${e.md5}  ${e.path.slice(1)}\n`)
      .sort();
    generated.push({ type: 'file', path: `${STATUS_DIR}/${deb.name}.md5sums`, content: sums.join(''), mode: 0o644, ...root });
  }
  const entries: LayerEntry[] = [...generated];
  let files = 0;
  for (const e of byPath.values()) {
    if (e.type === 'file') {
      files++;
      entries.push({ type: 'file', path: e.path, source: e.source, mode: e.mode, uid: e.uid, gid: e.gid });
    } else if (e.type === 'dir') {
      entries.push({ type: 'dir', path: e.path, mode: e.mode, uid: e.uid, gid: e.gid });
    } else {
      entries.push({ type: 'symlink', path: e.path, target: e.target, uid: e.uid, gid: e.gid });
    }
  }
  return { entries, packages, files, excluded };
}
