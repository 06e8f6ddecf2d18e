import { lstat, mkdir, readdir, readFile, readlink, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { BuildpackError } from '../../lib/index.js';
import semver from 'semver';
import { parsePnpmLock } from './pnpm-lock.js';
import { isFile, readProject, type NodeProject } from './project.js';
import { yarnWorkspaceMembers } from './yarn-workspace.js';

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

/** Which package manager's workspace a directory roots, by its lockfile: npm's, pnpm's, or yarn's. */
async function workspaceKind(p: NodeProject): Promise<'npm' | 'pnpm' | 'yarn' | undefined> {
  if (p.npmLockfile) return p.packageJson?.workspaces !== undefined ? 'npm' : undefined;
  if (p.hasPnpmLock) return (await isFile(join(p.dir, 'pnpm-workspace.yaml'))) ? 'pnpm' : undefined;
  if (p.hasYarnLock) return p.packageJson?.workspaces !== undefined ? 'yarn' : undefined;
  return undefined;
}

/** The members of the workspace rooted at `p` (none when it roots none): npm's lockfile links, pnpm's importers, yarn's workspaces. */
export async function membersOf(p: NodeProject): Promise<string[]> {
  switch (await workspaceKind(p)) {
    case 'npm':
      return workspaceMembers(await readFile(p.npmLockfile!, 'utf8'), p.npmLockfile!);
    case 'pnpm':
      return pnpmWorkspaceMembers(p);
    case 'yarn':
      return yarnWorkspaceMembers(p);
    default:
      return [];
  }
}

/**
 * The directory the package manager installs for: the project itself when it has a lockfile, else, for a
 * member of a workspace chosen with BP_NODE_PROJECT_PATH, the nearest workspace root (inside the app dir) that
 * has a lockfile: npm's `link` entries, pnpm's importers or yarn's workspaces name the members. A directory
 * inside a workspace root that is not one of its members is refused, naming the root and its members.
 */
export async function installRoot(appDir: string, project: NodeProject): Promise<{ root: NodeProject; members: string[] }> {
  if (project.npmLockfile || project.hasPnpmLock || project.hasYarnLock) return { root: project, members: await membersOf(project) };
  for (let dir = dirname(project.dir); dir.length >= appDir.length && relative(appDir, dir).split(sep)[0] !== '..'; dir = dirname(dir)) {
    const candidate = await readProject(dir);
    const kind = await workspaceKind(candidate);
    if (kind) {
      const members = await membersOf(candidate);
      const rel = relative(dir, project.dir);
      if (members.includes(rel)) return { root: candidate, members };
      const source = kind === 'npm' ? `the links of ${candidate.npmLockfile}` : kind === 'pnpm' ? `the importers of ${join(dir, 'pnpm-lock.yaml')}` : `${join(dir, 'package.json')} "workspaces"${members.length ? '' : ' (no directory with a package.json matches)'}`;
      throw new BuildpackError('CONFIG', `BP_NODE_PROJECT_PATH=${relative(appDir, project.dir)}: ${project.dir} is not a member of the ${kind} workspace at ${dir}, whose members (from ${source}) are: ${members.join(', ') || 'none'}`);
    }
    if (dir === appDir) break;
  }
  return { root: project, members: [] };
}

/** What a member's package.json says about workspace dependencies: its name and version, and its dependencies by field. */
export interface MemberManifest {
  name?: string;
  version?: string;
  dependencies: Record<string, string>;
  optionalDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** Each member's manifest, by member path. */
export async function memberManifests(root: string, members: readonly string[]): Promise<Map<string, MemberManifest>> {
  const out = new Map<string, MemberManifest>();
  for (const m of members) {
    const file = join(root, m, 'package.json');
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new BuildpackError('CONFIG', `${file} of workspace member ${m} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const deps = (f: string) => (doc[f] && typeof doc[f] === 'object' ? (doc[f] as Record<string, string>) : {});
    out.set(m, {
      ...(typeof doc['name'] === 'string' ? { name: doc['name'] } : {}),
      ...(typeof doc['version'] === 'string' ? { version: doc['version'] } : {}),
      dependencies: deps('dependencies'),
      optionalDependencies: deps('optionalDependencies'),
      devDependencies: deps('devDependencies'),
    });
  }
  return out;
}

/**
 * The members `start` needs: itself and, transitively, every member it depends on through `fields`. A dependency
 * names a member when the name matches and the range is a `workspace:` one or is satisfied by the member's
 * version (otherwise the package manager takes it from the registry).
 */
export function memberClosure(manifests: ReadonlyMap<string, MemberManifest>, start: string, fields: readonly ('dependencies' | 'optionalDependencies' | 'devDependencies')[] = ['dependencies', 'optionalDependencies']): string[] {
  const byName = new Map([...manifests].filter(([, m]) => m.name !== undefined).map(([path, m]) => [m.name!, path] as const));
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const m = todo.pop()!;
    if (seen.has(m)) continue;
    seen.add(m);
    const manifest = manifests.get(m);
    // Only the start member's own dev dependencies count; a sibling's are for its own build.
    for (const f of m === start ? fields : fields.filter((x) => x !== 'devDependencies')) {
      for (const [name, range] of Object.entries(manifest?.[f] ?? {})) {
        const path = byName.get(name);
        if (path === undefined) continue;
        const version = manifests.get(path)!.version;
        if (range.startsWith('workspace:') || range.startsWith('link:') || range.startsWith('file:') || range === '*' || (version !== undefined && semver.satisfies(version, range, { includePrerelease: true }))) todo.push(path);
      }
    }
  }
  return [...seen].sort();
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

/** Removes the member directories staging left empty in a layer (and their emptied parents), so the layer holds only modules. */
export async function removeEmptyMemberDirs(dir: string, members: readonly string[]): Promise<void> {
  for (const m of members) {
    for (let d = join(dir, m); d.length > dir.length && d.startsWith(`${dir}${sep}`); d = dirname(d)) {
      if (!(await rmdir(d).then(() => true, () => false))) break;
    }
  }
}

/** Drops the app's links to member node_modules of `from` (build-modules) that `to` (modules) does not have, so no link dangles in the image. */
export async function unlinkMemberModules(rootDir: string, from: { metadata: Record<string, unknown> }, to: { metadata: Record<string, unknown> }): Promise<void> {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const keep = new Set(list(to.metadata['member-modules']));
  for (const m of list(from.metadata['member-modules'])) {
    if (keep.has(m)) continue;
    const link = join(rootDir, m, 'node_modules');
    if (await lstat(link).then((s) => s.isSymbolicLink(), () => false)) await rm(link);
  }
}
