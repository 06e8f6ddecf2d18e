import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { BuildpackError } from '../../lib/index.js';
import { parsePnpmLock } from './pnpm-lock.js';
import { isFile, readProject, type NodeProject } from './project.js';

/** Member directories of an npm workspace, relative to its root, from the lockfile's `link: true` entries. */
export function workspaceMembers(lockText: string, file: string): string[] {
  let lock: { packages?: Record<string, { link?: boolean; resolved?: string }> };
  try {
    lock = JSON.parse(lockText);
  } catch (err) {
    throw new BuildpackError('CONFIG', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const members = new Set<string>();
  for (const e of Object.values(lock.packages ?? {})) {
    if (!e.link || typeof e.resolved !== 'string') continue;
    const rel = normalize(e.resolved);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`) || rel.includes('node_modules')) {
      throw new BuildpackError('CONFIG', `${file}: workspace link "${e.resolved}" leaves the workspace root`);
    }
    members.add(rel);
  }
  return [...members].sort();
}

/** Members of a pnpm workspace (pnpm-workspace.yaml beside pnpm-lock.yaml): the lockfile's importers other than `.`. */
export async function pnpmWorkspaceMembers(p: NodeProject): Promise<string[]> {
  if (!p.hasPnpmLock || !(await isFile(join(p.dir, 'pnpm-workspace.yaml')))) return [];
  const file = join(p.dir, 'pnpm-lock.yaml');
  const members = Object.keys(parsePnpmLock(await readFile(file, 'utf8'), file).importers).filter((k) => k !== '.');
  for (const m of members) {
    const rel = normalize(m);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`) || rel.includes('node_modules')) throw new BuildpackError('CONFIG', `${file}: workspace importer "${m}" leaves the workspace root`);
  }
  return members.map((m) => normalize(m)).sort();
}

/**
 * The directory npm or pnpm installs for: the project itself, or, for a member of an npm workspace chosen with
 * BP_NODE_PROJECT_PATH, the nearest workspace root (inside the app dir) whose lockfile links this member (npm's `link` entries, pnpm's importers).
 */
export async function installRoot(appDir: string, project: NodeProject): Promise<{ root: NodeProject; members: string[] }> {
  const membersOf = async (p: NodeProject) => {
    if (p.npmLockfile) return p.packageJson?.workspaces !== undefined ? workspaceMembers(await readFile(p.npmLockfile, 'utf8'), p.npmLockfile) : [];
    return pnpmWorkspaceMembers(p);
  };
  if (project.npmLockfile || project.hasPnpmLock) return { root: project, members: await membersOf(project) };
  for (let dir = dirname(project.dir); dir.length >= appDir.length && relative(appDir, dir).split(sep)[0] !== '..'; dir = dirname(dir)) {
    const candidate = await readProject(dir);
    const members = await membersOf(candidate);
    if (members.includes(relative(dir, project.dir))) return { root: candidate, members };
    if (dir === appDir) break;
  }
  return { root: project, members: [] };
}

/** Copies each member's package.json (its own scripts removed) into the staging dir npm runs in. */
export async function stageMembers(root: string, dir: string, members: readonly string[]): Promise<void> {
  for (const m of members) {
    const pkg = JSON.parse(await readFile(join(root, m, 'package.json'), 'utf8')) as Record<string, unknown>;
    delete pkg['scripts'];
    await mkdir(join(dir, m), { recursive: true });
    await writeFile(join(dir, m, 'package.json'), JSON.stringify(pkg, null, 2));
  }
}

/** Removes the staged member package.json files; members' own node_modules stay in the layer. */
export async function unstageMembers(dir: string, members: readonly string[]): Promise<void> {
  for (const m of members) await rm(join(dir, m, 'package.json'), { force: true });
}

/** Members whose dependencies npm installed into the member's own node_modules (not hoisted). */
export async function membersWithModules(dir: string, members: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const m of members) if (await lstat(join(dir, m, 'node_modules')).then((s) => s.isDirectory(), () => false)) out.push(m);
  return out;
}

/**
 * npm links workspace members into node_modules relative to where it ran (the layer). Points each such link
 * at the member in the app instead (absolute, as the image holds it), so `require('@demo/lib')` finds the
 * member's sources.
 */
export async function relinkMembers(layerDir: string, projectRoot: string, nodeModules = join(layerDir, 'node_modules')): Promise<void> {
  const entries: string[] = [];
  for (const name of await readdir(nodeModules).catch((): string[] => [])) {
    if (name.startsWith('@')) for (const sub of await readdir(join(nodeModules, name)).catch((): string[] => [])) entries.push(join(name, sub));
    else if (!name.startsWith('.')) entries.push(name);
  }
  for (const e of entries) {
    const link = join(nodeModules, e);
    const st = await lstat(link);
    if (!st.isSymbolicLink()) continue;
    const target = resolve(dirname(link), await readlink(link));
    const rel = relative(layerDir, target);
    if (rel.startsWith('..') || isAbsolute(rel) || rel === 'node_modules' || rel.startsWith(`node_modules${sep}`)) continue;
    await rm(link);
    await symlink(join(projectRoot, rel), link);
  }
}
