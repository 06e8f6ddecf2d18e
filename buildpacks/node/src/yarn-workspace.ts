import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, posix, sep } from 'node:path';
import { BuildpackError } from '../../lib/index.js';
import { isFile, type NodeProject } from './project.js';
import { isBerryLock } from './yarn-lock.js';

/** The patterns of package.json `workspaces`: an array, or `{ "packages": [...] }` (yarn's form with `nohoist`). */
export function workspacePatterns(value: unknown, file: string): string[] {
  const list = Array.isArray(value) ? value : value && typeof value === 'object' ? (value as { packages?: unknown }).packages : undefined;
  if (list === undefined && value && typeof value === 'object' && !Array.isArray(value)) return [];
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) {
    throw new BuildpackError('CONFIG', `${file}: "workspaces" must be an array of directory patterns, or an object whose "packages" is one`);
  }
  return list as string[];
}

function leavesRoot(rel: string): boolean {
  return isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`) || rel.startsWith('../');
}

/** One path segment of a workspace pattern (`*`, `?`, `[abc]`, literal text) as a regular expression. */
function segmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = segment.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${segment.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Subdirectories a pattern may enter: never node_modules or hidden directories, as yarn. */
async function subdirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && e.name !== 'node_modules' && !e.name.startsWith('.')).map((e) => e.name).sort();
}

/**
 * The directories (relative to `root`, `/`-separated) holding a package.json that the workspace patterns
 * match: `*`, `?`, `[…]` within a segment, `**` across segments, and `!pattern` to leave matches out.
 */
export async function expandWorkspacePatterns(root: string, patterns: readonly string[], file: string): Promise<string[]> {
  const expand = async (pattern: string): Promise<Set<string>> => {
    const rel = posix.normalize(pattern.trim().replace(/\\/g, '/')).replace(/\/+$/, '').replace(/^\.\//, '');
    if (rel === '' || leavesRoot(rel)) throw new BuildpackError('CONFIG', `${file}: workspace pattern "${pattern}" ${rel === '' ? 'is empty' : 'leaves the workspace root'}`);
    const found = new Set<string>();
    const walk = async (dir: string, segments: readonly string[]): Promise<void> => {
      if (segments.length === 0) {
        if (dir !== '.' && (await isFile(join(root, dir, 'package.json')))) found.add(dir);
        return;
      }
      const [seg, ...rest] = segments as [string, ...string[]];
      const at = (name: string) => (dir === '.' ? name : `${dir}/${name}`);
      if (seg === '**') {
        await walk(dir, rest);
        for (const d of await subdirs(join(root, dir))) await walk(at(d), segments);
      } else if (/[*?[]/.test(seg)) {
        const re = segmentRegExp(seg);
        for (const d of await subdirs(join(root, dir))) if (re.test(d)) await walk(at(d), rest);
      } else if (seg !== '.') await walk(at(seg), rest);
      else await walk(dir, rest);
    };
    await walk('.', rel.split('/'));
    return found;
  };
  const members = new Set<string>();
  for (const p of patterns.filter((p) => !p.startsWith('!'))) for (const m of await expand(p)) members.add(m);
  for (const p of patterns.filter((p) => p.startsWith('!'))) for (const m of await expand(p.slice(1))) members.delete(m);
  return [...members].map((m) => normalize(m)).sort();
}

/** A berry yarn.lock's workspaces: `resolution: "<name>@workspace:<path>"`, the root (`.`) left out. */
export function berryLockWorkspaces(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^ {2}resolution: "?((?:@[^/@"]+\/)?[^@"]+)@workspace:([^"]+?)"?\s*$/gm)) {
    const path = m[2]!;
    if (path === '.') continue;
    const rel = normalize(path);
    if (leavesRoot(rel) || rel.split(sep).includes('node_modules')) throw new BuildpackError('CONFIG', `${file}: workspace "${m[1]}" at "${path}" leaves the workspace root`);
    out[rel] = m[1]!;
  }
  return out;
}

/**
 * Members of a yarn workspace: a directory with yarn.lock (and no npm lockfile) whose package.json has
 * `workspaces`. berry's lockfile lists its workspaces; for a classic lockfile, which does not, the patterns are
 * expanded over the directory tree, as yarn 1 does.
 */
export async function yarnWorkspaceMembers(p: NodeProject): Promise<string[]> {
  if (!p.hasYarnLock || p.npmLockfile || p.packageJson?.workspaces === undefined) return [];
  const pkgFile = join(p.dir, 'package.json');
  const patterns = workspacePatterns(p.packageJson.workspaces, pkgFile);
  const lockFile = join(p.dir, 'yarn.lock');
  const lockText = await readFile(lockFile, 'utf8');
  if (isBerryLock(lockText)) return Object.keys(berryLockWorkspaces(lockText, lockFile)).sort();
  return expandWorkspacePatterns(p.dir, patterns, pkgFile);
}
