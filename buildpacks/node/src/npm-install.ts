import { createHash } from 'node:crypto';
import { cp, lstat, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { BuildpackError, contributeLayer, nodeArch, type BuildContext, type Layer, type LayerContribution, type LayerTypes, type TomlTable } from '../../lib/index.js';
import { runCommand } from './command.js';
import { installedPackages, lockfileComponents } from './package-sbom.js';
import type { NodeProject } from './project.js';
import { contributeHeaders, type NodeRuntime } from './runtime.js';
import { membersWithModules, relinkMembers, removeEmptyMemberDirs, stageMembers, unlinkMemberModules, unstageMembers } from './workspaces.js';

/** package.json fields that decide what npm installs; a change to anything else (scripts, main) reinstalls nothing. */
const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies', 'bundledDependencies', 'overrides', 'workspaces'];

/** The scripts to run at build time: BP_NODE_RUN_SCRIPTS (comma-separated), else `build` when defined. */
export function buildScripts(scripts: Readonly<Record<string, string>>, runScripts: string | undefined, file: string): string[] {
  if (runScripts !== undefined && runScripts.trim() !== '') {
    const names = runScripts.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const missing = names.filter((n) => scripts[n] === undefined);
    if (missing.length) throw new BuildpackError('CONFIG', `BP_NODE_RUN_SCRIPTS names ${missing.map((m) => `"${m}"`).join(', ')}, which ${file} does not define in "scripts"`);
    return names;
  }
  return scripts['build'] !== undefined ? ['build'] : [];
}

/**
 * The inputs node_modules depends on, hashed: lockfile, the dependency fields of package.json (and of each
 * workspace member's, so a member's changed dependencies meet `npm ci`'s sync check), the project's .npmrc.
 */
export async function dependencyKey(project: NodeProject, members: readonly string[] = []): Promise<string> {
  const h = createHash('sha256');
  const fields = async (dir: string) => {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    return DEPENDENCY_FIELDS.map((f) => [f, pkg[f] ?? null]);
  };
  h.update(JSON.stringify(await fields(project.dir)));
  if (members.length) h.update(`\0${JSON.stringify(await Promise.all(members.map(async (m) => [m, await fields(join(project.dir, m))])))}`);
  h.update('\0');
  h.update(project.npmLockfile ? await readFile(project.npmLockfile) : 'no lockfile');
  h.update('\0');
  h.update(await readFile(join(project.dir, '.npmrc')).catch(() => ''));
  return h.digest('hex');
}

/**
 * The environment npm runs with: the installed runtime first on PATH, npm's cache in the cache layer, headers
 * for native addons from the runtime layer (no download), no audit/fund/update checks. The registry, auth and
 * CA come from the user's configuration the lifecycle forwards (NPM_CONFIG_USERCONFIG/GLOBALCONFIG,
 * NODE_EXTRA_CA_CERTS), which npm reads from the environment as it does on the host.
 */
export function npmEnv(ctx: BuildContext, runtime: NodeRuntime, cacheDir: string, nodedir?: string): Record<string, string | undefined> {
  return {
    ...ctx.env,
    PATH: [join(runtime.layer.path, 'bin'), ctx.env['PATH']].filter(Boolean).join(':'),
    npm_config_cache: cacheDir,
    // npm's debug logs go to the build's temp dir: in the cache they changed the cache layer on every build that
    // runs a script (it is packed again) and piled up to ten old logs
    npm_config_logs_dir: join(tmpdir(), 'npm-logs'),
    ...(nodedir ? { npm_config_nodedir: nodedir } : {}),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
}

/**
 * Local tarball dependencies (`file:vendor/x-1.0.0.tgz`) of package.json and the lockfile, as paths relative
 * to the project. npm installs them like registry packages (copied, install scripts run), so they are staged
 * with package.json; the lockfile's integrity of each keeps the modules layer keyed to their contents.
 */
export function localTarballs(pkg: Record<string, unknown>, lockText: string | undefined, file: string): string[] {
  const specs: string[] = [];
  for (const f of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    const deps = pkg[f];
    if (deps && typeof deps === 'object') specs.push(...Object.values(deps as Record<string, unknown>).filter((v): v is string => typeof v === 'string'));
  }
  if (lockText !== undefined) {
    const lock = JSON.parse(lockText) as { packages?: Record<string, { resolved?: unknown }> };
    for (const e of Object.values(lock.packages ?? {})) if (typeof e.resolved === 'string') specs.push(e.resolved);
  }
  const out = new Set<string>();
  for (const spec of specs) {
    const m = /^file:(.+\.(?:tgz|tar\.gz|tar))$/.exec(spec);
    if (!m) continue;
    const rel = normalize(m[1]!);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) throw new BuildpackError('CONFIG', `${file}: the local tarball "${spec}" is outside the project directory`);
    out.add(rel);
  }
  return [...out].sort();
}

/** Copies the files npm needs into `dir`, with the root package's own lifecycle scripts removed (they need the app's sources). */
async function stageProject(project: NodeProject, dir: string, members: readonly string[]): Promise<string[]> {
  await stageMembers(project.dir, dir, members);
  const pkgFile = join(project.dir, 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as Record<string, unknown>;
  const tarballs = localTarballs(pkg, project.npmLockfile ? await readFile(project.npmLockfile, 'utf8') : undefined, project.npmLockfile ?? pkgFile);
  delete pkg['scripts'];
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  if (project.npmLockfile) await cp(project.npmLockfile, join(dir, basename(project.npmLockfile)));
  await cp(join(project.dir, '.npmrc'), join(dir, '.npmrc')).catch(() => undefined);
  for (const t of tarballs) {
    await cp(join(project.dir, t), join(dir, t)).catch((err: Error) => {
      throw new BuildpackError('CONFIG', `${pkgFile}: the local tarball dependency ${join(project.dir, t)} cannot be read: ${err.message}`, { cause: err });
    });
  }
  return tarballs;
}

/** Removes the staged files and the member directories left empty; workspace links are pointed at the members in the app. */
async function unstageProject(project: NodeProject, dir: string, members: readonly string[], staged: readonly string[] = []): Promise<void> {
  for (const f of ['package.json', 'package-lock.json', 'npm-shrinkwrap.json', '.npmrc', ...staged]) await rm(join(dir, f), { force: true });
  if (members.length === 0) return;
  await unstageMembers(dir, members);
  await relinkMembers(dir, project.dir);
  // Staging left a directory per member; only those holding the member's own node_modules stay in the layer.
  await removeEmptyMemberDirs(dir, members);
}

/**
 * A dependencies layer. With a lockfile it is reused while its inputs are unchanged (the layer contributor
 * decides); without one, versions float, so the package manager runs on every build.
 */
export async function contributeDependencies(ctx: BuildContext, locked: boolean, name: string, c: LayerContribution): Promise<Layer> {
  if (locked) return (await contributeLayer(ctx.layers, name, c, ctx.logger)).layer;
  ctx.logger.info(`Building layer ${name} (no lockfile: the install runs on every build)`);
  const l = await ctx.layers.layer(name, c.types);
  await l.reset();
  await c.build(l);
  l.metadata = { ...l.metadata, ...c.expected };
  return l;
}

export interface NpmInstallResult {
  /** Whether npm ran in this build (false when every modules layer was reused). */
  installed: boolean;
  scripts: string[];
}

/** Points `<dir>/node_modules` at a layer's copy (the app layer holds only the link). */
export async function linkNodeModules(dir: string, target: string, logger: BuildContext['logger']): Promise<void> {
  const link = join(dir, 'node_modules');
  const st = await lstat(link).catch(() => undefined);
  if (st && !st.isSymbolicLink()) logger.warn(`${link} is replaced by the installed dependencies (a vendored node_modules is not used)`);
  await rm(link, { recursive: true, force: true });
  await symlink(target, link);
}

/** Links the root's node_modules and each workspace member's own node_modules (recorded in the layer's metadata). */
export async function linkLayer(root: NodeProject, layer: Layer, logger: BuildContext['logger']): Promise<void> {
  await linkNodeModules(root.dir, join(layer.path, 'node_modules'), logger);
  const members = layer.metadata['member-modules'];
  for (const m of Array.isArray(members) ? members : []) if (typeof m === 'string') await linkNodeModules(join(root.dir, m), join(layer.path, m, 'node_modules'), logger);
}

/**
 * npm: `npm ci` with a lockfile, else `npm install`, into layers keyed by the dependency inputs and the Node
 * and npm versions, so an unchanged project runs no npm at all. Without build scripts, production dependencies
 * go straight into the launch layer `modules`. With build scripts, a `build-modules` layer (build, cache) gets
 * every dependency, the scripts run, and `modules` is that tree pruned of dev dependencies.
 *
 * A workspace member chosen with BP_NODE_PROJECT_PATH (`root` above `app`) is installed alone: npm runs at the
 * root, on the root's and every member's package.json, with `--workspace <member>
 * --include-workspace-root=false`, which installs the member's dependencies and, through the lockfile's links,
 * those of the members it depends on, never the root's own nor an unrelated member's; the prune keeps the same
 * selection. The SBOM is that closure of the lockfile (see lockfileClosure).
 */
export async function npmInstall(ctx: BuildContext, app: NodeProject, runtime: NodeRuntime, root: NodeProject = app, members: readonly string[] = []): Promise<NpmInstallResult> {
  const project = root;
  const pkgFile = join(project.dir, 'package.json');
  const scripts = buildScripts(app.packageJson!.scripts, ctx.config('BP_NODE_RUN_SCRIPTS'), join(app.dir, 'package.json'));
  const cache = await ctx.layers.layer('npm-cache', { cache: true });
  await mkdir(cache.path, { recursive: true });
  let env = npmEnv(ctx, runtime, cache.path);
  const lockText = project.npmLockfile ? await readFile(project.npmLockfile, 'utf8') : undefined;
  // Headers only for projects that build something at install time (npm marks them hasInstallScript).
  const needsHeaders = lockText === undefined || /"hasInstallScript":\s*true/.test(lockText);
  const npm = (args: string[]) => [runtime.node, runtime.npmCli, ...args];
  const command = project.npmLockfile ? 'ci' : 'install';
  const inputs = project.npmLockfile ? `${pkgFile} and ${project.npmLockfile}` : pkgFile;
  const selected = members.length && root.dir !== app.dir ? relative(root.dir, app.dir).split(sep).join('/') : '';
  const workspace = selected ? ['--workspace', selected, '--include-workspace-root=false'] : [];
  const scope = selected ? ` (workspace ${selected})` : '';
  const base = { 'dependencies-sha256': await dependencyKey(project, members), 'node-version': runtime.version, 'npm-version': runtime.npmVersion, command, ...(selected ? { 'workspace-member': selected } : {}) };
  let installed = false;
  const install = async (l: Layer, omitDev: boolean) => {
    if (!installed && needsHeaders) env = npmEnv(ctx, runtime, cache.path, await contributeHeaders(ctx, runtime));
    installed = true;
    const staged = await stageProject(project, l.path, members);
    const args = [command, omitDev ? '--omit=dev' : '--include=dev', ...workspace, '--no-audit', '--no-fund'];
    ctx.logger.info(`  Running npm ${args.join(' ')} for ${inputs}${scope}`);
    await runCommand(`npm ${command} for ${inputs}${scope}`, npm(args), { cwd: l.path, env });
    await unstageProject(project, l.path, members, staged);
  };
  const contribute = (name: string, types: LayerTypes, expected: TomlTable, fill: (l: Layer) => Promise<void>) =>
    contributeDependencies(ctx, !!project.npmLockfile, name, { types, expected, build: async (l) => {
      await fill(l);
      l.metadata['member-modules'] = await membersWithModules(l.path, members);
    } });
  const writeModulesSbom = async (l: Layer) => {
    const components = project.npmLockfile
      ? lockfileComponents(await readFile(project.npmLockfile, 'utf8'), project.npmLockfile, { omitDev: true, arch: nodeArch(ctx.target.arch), ...(selected ? { member: selected } : {}) })
      : await installedPackages(join(l.path, 'node_modules'));
    await l.writeSbom(components);
  };

  if (scripts.length === 0) {
    const layer = await contribute('modules', { launch: true }, { ...base, omit: 'dev' }, (l) => install(l, true));
    await writeModulesSbom(layer);
    await linkLayer(project, layer, ctx.logger);
    return { installed, scripts };
  }

  const full = await contribute('build-modules', { build: true, cache: true }, { ...base, omit: '' }, (l) => install(l, false));
  await linkLayer(project, full, ctx.logger);
  await runBuildScripts(ctx, app, runtime, scripts, env);
  const layer = await contribute('modules', { launch: true }, { ...base, omit: 'dev' }, async (l) => {
    installed = true;
    for (const m of ['', ...(await membersWithModules(full.path, members))]) {
      await cp(join(full.path, m, 'node_modules'), join(l.path, m, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    }
    const staged = await stageProject(project, l.path, members);
    const args = ['prune', '--omit=dev', ...workspace, '--no-audit', '--no-fund'];
    ctx.logger.info(`  Pruning dev dependencies (npm ${args.slice(0, 2 + workspace.length).join(' ')})`);
    await runCommand(`npm prune --omit=dev for ${inputs}${scope}`, npm(args), { cwd: l.path, env });
    await unstageProject(project, l.path, members, staged);
  });
  await writeModulesSbom(layer);
  await unlinkMemberModules(project.dir, full, layer);
  await linkLayer(project, layer, ctx.logger);
  return { installed, scripts };
}

/** Runs each build script with `npm run` in the project dir; a failure shows the script's output (exit 51). */
export async function runBuildScripts(ctx: BuildContext, project: NodeProject, runtime: NodeRuntime, scripts: readonly string[], env: Record<string, string | undefined>): Promise<void> {
  for (const script of scripts) {
    ctx.logger.info(`Running build script "${script}": ${project.packageJson?.scripts[script] ?? ''}`);
    await runCommand(`the "${script}" script of ${join(project.dir, 'package.json')}`, [runtime.node, runtime.npmCli, 'run', script], { cwd: project.dir, env });
  }
}
