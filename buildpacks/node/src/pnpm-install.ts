import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { contributeLayer, extractTarGz, type BuildContext, type DependencySource, type Layer, type LayerTypes, type TomlTable, type VersionRequest } from '../../lib/index.js';
import { runCommand } from './command.js';
import { buildScripts, contributeDependencies, linkLayer, npmEnv, runBuildScripts, type NpmInstallResult } from './npm-install.js';
import { membersWithModules, relinkMembers, removeEmptyMemberDirs, stageMembers, unlinkMemberModules, unstageMembers } from './workspaces.js';
import { importerClosure, parsePnpmLock, pnpmComponents } from './pnpm-lock.js';
import type { NodeProject } from './project.js';
import { resolveFrom, type NodeRuntime } from './runtime.js';

/** The default pnpm line when neither BP_PNPM_VERSION nor packageManager names one. */
export const DEFAULT_PNPM_VERSION = '10';

/** pnpm itself, from the `pnpm` package of the user's npm registry, in a build+cache layer. */
async function contributePnpm(ctx: BuildContext, source: DependencySource, request: VersionRequest): Promise<{ cli: string; version: string }> {
  const version = await resolveFrom(source, 'pnpm', 'pnpm', request);
  ctx.logger.info(`pnpm ${version} (requested "${request.constraint}" by ${request.source})`);
  const d = await source.describe('pnpm', version);
  const { layer } = await contributeLayer(ctx.layers, 'pnpm', {
    types: { build: true, cache: true },
    expected: { version, checksum: d.checksum },
    build: async (l) => {
      const tmp = join(l.path, '.download');
      const fetched = await source.fetch('pnpm', version, tmp);
      await extractTarGz(fetched.path, l.path, { stripComponents: 1 });
      await rm(tmp, { recursive: true, force: true });
    },
  }, ctx.logger);
  return { cli: join(layer.path, 'bin', 'pnpm.cjs'), version };
}

/** Licences of the packages pnpm installed (node_modules/.pnpm/<key>/node_modules/<name>/package.json), by name@version. */
async function installedLicenses(nodeModules: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const store = join(nodeModules, '.pnpm');
  for (const entry of (await readdir(store).catch((): string[] => [])).sort()) {
    const inner = join(store, entry, 'node_modules');
    const names: string[] = [];
    for (const n of await readdir(inner).catch((): string[] => [])) {
      if (n.startsWith('@')) for (const s of await readdir(join(inner, n)).catch((): string[] => [])) names.push(`${n}/${s}`);
      else names.push(n);
    }
    for (const n of names) {
      const pkg = await readFile(join(inner, n, 'package.json'), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
      if (!pkg || typeof pkg['name'] !== 'string' || typeof pkg['version'] !== 'string') continue;
      const l = pkg['license'];
      const license = typeof l === 'string' ? l : l && typeof l === 'object' && typeof (l as { type?: unknown }).type === 'string' ? (l as { type: string }).type : undefined;
      if (license) out[`${pkg['name']}@${pkg['version']}`] = license;
    }
  }
  return out;
}

/**
 * pnpm: `pnpm install --frozen-lockfile` into layers keyed by pnpm-lock.yaml, package.json's dependency
 * fields and the Node/pnpm versions, like npm (see npmInstall): production dependencies in `modules`; with
 * build scripts, everything in `build-modules` first, then `modules` installed again with `--prod --offline`
 * from the store (a cache layer). Packages are copied from the store, never hard-linked across layers.
 */
export async function pnpmInstall(ctx: BuildContext, project: NodeProject, runtime: NodeRuntime, source: DependencySource, request: VersionRequest, root: NodeProject = project, members: readonly string[] = []): Promise<NpmInstallResult> {
  const pkgFile = join(root.dir, 'package.json');
  const lockFile = join(root.dir, 'pnpm-lock.yaml');
  const scripts = buildScripts(project.packageJson!.scripts, ctx.config('BP_NODE_RUN_SCRIPTS'), join(project.dir, 'package.json'));
  const pnpm = await contributePnpm(ctx, source, request);
  const store = await ctx.layers.layer('pnpm-store', { cache: true });
  await mkdir(store.path, { recursive: true });
  const env = { ...npmEnv(ctx, runtime, join(store.path, 'npm-cache')), CI: 'true' };
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as Record<string, unknown>;
  const lockText = root.hasPnpmLock ? await readFile(lockFile, 'utf8') : undefined;
  const workspaceFile = await readFile(join(root.dir, 'pnpm-workspace.yaml'), 'utf8').catch(() => undefined);
  const fields = (p: Record<string, unknown>) => ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'pnpm'].map((f) => p[f] ?? null);
  const memberFields = await Promise.all(members.map(async (m) => [m, fields(JSON.parse(await readFile(join(root.dir, m, 'package.json'), 'utf8')) as Record<string, unknown>)]));
  const key = createHash('sha256').update(JSON.stringify([fields(pkg), memberFields])).update('\0').update(lockText ?? 'no lockfile').update('\0').update(await readFile(join(root.dir, '.npmrc')).catch(() => '')).update('\0').update(workspaceFile ?? '').digest('hex');
  // A member chosen with BP_NODE_PROJECT_PATH gets its production dependencies and those of the members it links to, not every member's.
  const selected = members.length && root.dir !== project.dir ? relative(root.dir, project.dir).split(sep).join('/') : '';
  const base: TomlTable = { 'dependencies-sha256': key, 'node-version': runtime.version, 'pnpm-version': pnpm.version, ...(selected ? { 'workspace-member': selected } : {}) };
  const inputs = lockText !== undefined ? `${pkgFile} and ${lockFile}` : pkgFile;
  let installed = false;
  const install = async (l: Layer, prod: boolean, offline: boolean) => {
    installed = true;
    const staged = { ...pkg };
    delete staged['scripts'];
    await writeFile(join(l.path, 'package.json'), JSON.stringify(staged, null, 2));
    if (lockText !== undefined) await writeFile(join(l.path, 'pnpm-lock.yaml'), lockText);
    if (workspaceFile !== undefined) await writeFile(join(l.path, 'pnpm-workspace.yaml'), workspaceFile);
    await cp(join(root.dir, '.npmrc'), join(l.path, '.npmrc')).catch(() => undefined);
    await stageMembers(root.dir, l.path, members);
    const filter = prod && selected ? ['--filter', `{${selected}}...`] : [];
    const args = ['install', lockText !== undefined ? '--frozen-lockfile' : '--no-frozen-lockfile', ...(prod ? ['--prod'] : []), ...(offline ? ['--offline'] : []), ...filter, '--store-dir', store.path, '--package-import-method', 'copy', '--config.confirmModulesPurge=false'];
    ctx.logger.info(`  Running pnpm ${args.slice(0, (prod ? 3 : 2) + (offline ? 1 : 0) + filter.length).join(' ')} for ${inputs}`);
    await runCommand(`pnpm install for ${inputs}`, [runtime.node, pnpm.cli, ...args], { cwd: l.path, env });
    for (const f of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc']) await rm(join(l.path, f), { force: true });
    await unstageMembers(l.path, members);
    // Holds timestamps and the store path; only pnpm's next install in place would read it.
    await rm(join(l.path, 'node_modules', '.modules.yaml'), { force: true });
    // pnpm 10's record of the workspace: a timestamp and the absolute paths of the staged projects.
    await rm(join(l.path, 'node_modules', '.pnpm-workspace-state-v1.json'), { force: true });
    // Members link their siblings relative to the layer; point those links at the members in the app.
    for (const m of members) await relinkMembers(l.path, root.dir, join(l.path, m, 'node_modules'));
    l.metadata['member-modules'] = await membersWithModules(l.path, members);
    await removeEmptyMemberDirs(l.path, members);
    l.metadata['licenses'] = await installedLicenses(join(l.path, 'node_modules'));
  };
  const contribute = (name: string, types: LayerTypes, expected: TomlTable, build: (l: Layer) => Promise<void>) =>
    contributeDependencies(ctx, lockText !== undefined, name, { types, expected, build });
  const sbom = async (l: Layer) => {
    const licenses = (l.metadata['licenses'] ?? {}) as Record<string, string>;
    if (lockText === undefined) return;
    const lock = parsePnpmLock(lockText, lockFile);
    await l.writeSbom(pnpmComponents(lock, true, licenses, selected ? importerClosure(lock, selected) : undefined));
  };

  let full: Layer | undefined;
  if (scripts.length > 0) {
    full = await contribute('build-modules', { build: true, cache: true }, { ...base, prod: false }, (l) => install(l, false, false));
    await linkLayer(root, full, ctx.logger);
    await runBuildScripts(ctx, project, runtime, scripts, env);
  }
  const layer = await contribute('modules', { launch: true }, { ...base, prod: true }, (l) => install(l, true, scripts.length > 0 && lockText !== undefined));
  await sbom(layer);
  if (full) await unlinkMemberModules(root.dir, full, layer);
  await linkLayer(root, layer, ctx.logger);
  return { installed, scripts };
}
