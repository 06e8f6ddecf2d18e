import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import semver from 'semver';
import {
  BuildpackError,
  contributeLayer,
  extractTarGz,
  loadNpmConfig,
  type BuildContext,
  type DependencySource,
  type Layer,
  type LayerTypes,
  type SbomComponent,
  type TomlTable,
  type VersionRequest,
} from '../../lib/index.js';
import { runCommand } from './command.js';
import { buildScripts, contributeDependencies, linkLayer, npmEnv, runBuildScripts, type NpmInstallResult } from './npm-install.js';
import { installedPackages } from './package-sbom.js';
import type { NodeProject } from './project.js';
import { resolveFrom, sriHex, type NodeRuntime } from './runtime.js';
import { membersWithModules, memberClosure, memberManifests, relinkMembers, removeEmptyMemberDirs, stageMembers, unlinkMemberModules, unstageMembers, type MemberManifest } from './workspaces.js';
import { classicIntegrity, isBerryLock } from './yarn-lock.js';

/** Default lines when neither BP_YARN_VERSION nor packageManager names one: by the lockfile's format. */
export const DEFAULT_YARN_CLASSIC = '1';
export const DEFAULT_YARN_BERRY = '4';

export type YarnFlavor = 'classic' | 'berry';

/** Where each flavour's CLI comes from: yarn 1 is the `yarn` package, yarn 2+ the bundled `@yarnpkg/cli-dist`. */
const CLI_PACKAGE: Readonly<Record<YarnFlavor, string>> = { classic: 'yarn', berry: '@yarnpkg/cli-dist' };

/** The version request for yarn: BP_YARN_VERSION > packageManager > a default by the lockfile format. */
export function yarnVersionRequest(bpYarnVersion: string | undefined, packageManagerVersion: string | undefined, lockText: string | undefined): VersionRequest {
  if (bpYarnVersion !== undefined && bpYarnVersion.trim() !== '') return { constraint: bpYarnVersion.trim(), source: 'BP_YARN_VERSION' };
  if (packageManagerVersion !== undefined) return { constraint: packageManagerVersion, source: 'package.json packageManager' };
  const berry = lockText !== undefined && isBerryLock(lockText);
  return { constraint: berry ? DEFAULT_YARN_BERRY : DEFAULT_YARN_CLASSIC, source: `buildpack default (yarn.lock ${berry ? 'in yarn 2+ format' : 'in classic format, or none'})` };
}

/** yarn 1 is classic; 4 and later are berry with `workspaces focus` built in; 2 and 3 are refused. */
export function yarnFlavor(request: VersionRequest): YarnFlavor {
  const min = semver.validRange(request.constraint) ? semver.minVersion(request.constraint) : null;
  if (!min) throw new BuildpackError('CONFIG', `yarn version "${request.constraint}" (from ${request.source}) is not a valid version or range`);
  if (min.major <= 1) return 'classic';
  if (min.major < 4) {
    throw new BuildpackError('CONFIG', `yarn ${request.constraint} (from ${request.source}) is not supported: use yarn 1 (classic) or yarn 4 and later, whose built-in "workspaces focus --production" installs production dependencies only`);
  }
  return 'berry';
}

/** yarn itself, from the user's npm registry, integrity-checked, in a build+cache layer. */
async function contributeYarn(ctx: BuildContext, source: DependencySource, request: VersionRequest, flavor: YarnFlavor): Promise<{ cli: string; version: string }> {
  const pkg = CLI_PACKAGE[flavor];
  const version = await resolveFrom(source, 'yarn', pkg, request);
  if (flavor === 'berry' && semver.major(version) < 4) throw new BuildpackError('CONFIG', `yarn ${version} (from ${request.source}) is not supported: use yarn 1 or yarn 4 and later`);
  ctx.logger.info(`yarn ${version} (${pkg}; requested "${request.constraint}" by ${request.source})`);
  const d = await source.describe(pkg, version);
  const { layer } = await contributeLayer(ctx.layers, 'yarn', {
    types: { build: true, cache: true },
    expected: { package: pkg, version, checksum: d.checksum },
    build: async (l) => {
      const tmp = join(l.path, '.download');
      const fetched = await source.fetch(pkg, version, tmp);
      await extractTarGz(fetched.path, l.path, { stripComponents: 1 });
      await rm(tmp, { recursive: true, force: true });
    },
  }, ctx.logger);
  return { cli: join(layer.path, 'bin', 'yarn.js'), version };
}

/** A top-level `key: value` of a .yarnrc.yml (berry's settings file), unquoted. */
export function yarnrcSetting(text: string, key: string): string | undefined {
  const m = new RegExp(`^${key}:\\s*(.*?)\\s*$`, 'm').exec(text);
  return m ? m[1]!.replace(/^(['"])(.*)\1$/, '$2') : undefined;
}

/**
 * The YARN_* settings that make berry use the user's npm registry, auth and CA, where .yarnrc.yml names no
 * registry of its own (berry does not read npmrc files), plus a private cache and the node-modules linker.
 */
export async function berryEnv(ctx: BuildContext, project: NodeProject, yarnrc: string, cacheDir: string): Promise<Record<string, string>> {
  const file = join(project.dir, '.yarnrc.yml');
  const linker = yarnrcSetting(yarnrc, 'nodeLinker');
  if (linker !== undefined && linker !== 'node-modules') {
    throw new BuildpackError('CONFIG', `${file}: nodeLinker "${linker}" is not supported; this buildpack installs with the node-modules linker (set nodeLinker: node-modules, or remove the setting)`);
  }
  const env: Record<string, string> = {
    YARN_NODE_LINKER: 'node-modules',
    YARN_CACHE_FOLDER: join(cacheDir, 'cache'),
    YARN_GLOBAL_FOLDER: join(cacheDir, 'global'),
    YARN_ENABLE_GLOBAL_CACHE: 'false',
    YARN_ENABLE_TELEMETRY: 'false',
    YARN_ENABLE_PROGRESS_BARS: 'false',
    YARN_ENABLE_COLORS: 'false',
    // A committed release in .yarn/releases is not staged; the version the buildpack installed runs.
    YARN_IGNORE_PATH: '1',
  };
  if (yarnrcSetting(yarnrc, 'npmRegistryServer') !== undefined || /^npmRegistries:/m.test(yarnrc)) return env;
  const npm = await loadNpmConfig({ env: ctx.env, projectDir: project.dir });
  const registry = npm.registryFor('');
  env['YARN_NPM_REGISTRY_SERVER'] = registry.replace(/\/$/, '');
  const auth = npm.authorizationFor(registry);
  if (auth?.startsWith('Bearer ')) env['YARN_NPM_AUTH_TOKEN'] = auth.slice('Bearer '.length);
  else if (auth?.startsWith('Basic ')) env['YARN_NPM_AUTH_IDENT'] = auth.slice('Basic '.length);
  const cafile = npm.get('cafile');
  if (cafile && cafile !== 'null' && yarnrcSetting(yarnrc, 'httpsCaFilePath') === undefined) env['YARN_HTTPS_CA_FILE_PATH'] = cafile;
  if (!npm.strictSsl) env['YARN_ENABLE_STRICT_SSL'] = 'false';
  return env;
}

/** The files each flavour reads besides package.json and yarn.lock. */
const CONFIG_FILES: Readonly<Record<YarnFlavor, readonly string[]>> = { classic: ['.npmrc', '.yarnrc'], berry: ['.npmrc', '.yarnrc.yml'] };

/**
 * The members a yarn install stages and, for the production install, what it runs: yarn classic has no way to
 * install one workspace, so its root package.json is staged with `workspaces` narrowed to the selected member
 * and the members it depends on (and without the root's own dependencies); berry stages every member and
 * focuses on the selected one by name (`yarn workspaces focus <name> --production`).
 */
export interface YarnWorkspacePlan {
  /** The selected member relative to the root, or '' for the root itself. */
  selected: string;
  /** Members staged for the production install. */
  prodMembers: string[];
  /** berry: the workspace `yarn workspaces focus` selects, by name. */
  focus?: string;
}

export function yarnWorkspacePlan(flavor: YarnFlavor, selected: string, members: readonly string[], manifests: ReadonlyMap<string, MemberManifest>, file: string): YarnWorkspacePlan {
  if (selected === '') return { selected, prodMembers: [...members] };
  if (flavor === 'berry') {
    const name = manifests.get(selected)?.name;
    if (!name) throw new BuildpackError('CONFIG', `${file} has no "name": yarn selects a workspace member by its name (yarn workspaces focus <name>)`);
    return { selected, prodMembers: [...members], focus: name };
  }
  return { selected, prodMembers: memberClosure(manifests, selected) };
}

/** The root package.json as staged: without scripts; for classic's production install of a member, `workspaces` narrowed and the root's own dependencies left out. */
export function stagedRootManifest(pkg: Readonly<Record<string, unknown>>, flavor: YarnFlavor, plan: YarnWorkspacePlan, prod: boolean): Record<string, unknown> {
  const staged: Record<string, unknown> = { ...pkg };
  delete staged['scripts'];
  if (flavor === 'classic' && prod && plan.selected !== '') {
    const ws = pkg['workspaces'];
    staged['workspaces'] = Array.isArray(ws) || !ws || typeof ws !== 'object' ? plan.prodMembers : { ...(ws as Record<string, unknown>), packages: plan.prodMembers };
    delete staged['dependencies'];
    delete staged['optionalDependencies'];
  }
  return staged;
}

/**
 * yarn classic (`yarn install --frozen-lockfile --production`) or berry with the node-modules linker
 * (`yarn install`, then `yarn workspaces focus --all --production` for the image), into layers keyed like
 * npm's (see npmInstall): the lockfile, package.json's dependency fields (the root's and every member's), yarn's
 * and npm's project config, the selected member and the Node and yarn versions. In a workspace (`root` above
 * `project`), yarn runs at the root with every member's package.json staged; the image gets the production
 * dependencies of the selected member and the members it depends on (see yarnWorkspacePlan), with links to
 * those members pointing at their sources in the app. The SBOM comes from what was installed and is kept in
 * the layer's metadata, so a reused layer gets the same SBOM.
 */
export async function yarnInstall(ctx: BuildContext, project: NodeProject, runtime: NodeRuntime, source: DependencySource, request: VersionRequest, root: NodeProject = project, members: readonly string[] = []): Promise<NpmInstallResult> {
  const pkgFile = join(root.dir, 'package.json');
  const lockFile = join(root.dir, 'yarn.lock');
  const scripts = buildScripts(project.packageJson!.scripts, ctx.config('BP_NODE_RUN_SCRIPTS'), join(project.dir, 'package.json'));
  const lockText = root.hasYarnLock ? await readFile(lockFile, 'utf8') : undefined;
  const flavor = yarnFlavor(request);
  if (lockText !== undefined && isBerryLock(lockText) !== (flavor === 'berry')) {
    throw new BuildpackError('CONFIG', `${lockFile} is a ${isBerryLock(lockText) ? 'yarn 2+' : 'yarn classic'} lockfile, but yarn "${request.constraint}" was requested by ${request.source}`);
  }
  const manifests = await memberManifests(root.dir, members);
  const plan = yarnWorkspacePlan(flavor, relative(root.dir, project.dir), members, manifests, join(project.dir, 'package.json'));
  const yarn = await contributeYarn(ctx, source, request, flavor);
  const cache = await ctx.layers.layer('yarn-cache', { cache: true });
  await mkdir(cache.path, { recursive: true });
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as Record<string, unknown>;
  const configs = await Promise.all(CONFIG_FILES[flavor].map((f) => readFile(join(root.dir, f), 'utf8').catch(() => undefined)));
  const fields = (p: Record<string, unknown>) => ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'resolutions', 'workspaces'].map((f) => p[f] ?? null);
  const memberFields = await Promise.all(members.map(async (m) => [m, fields(JSON.parse(await readFile(join(root.dir, m, 'package.json'), 'utf8')) as Record<string, unknown>)]));
  const key = createHash('sha256')
    .update(JSON.stringify(fields(pkg)))
    .update('\0').update(lockText ?? 'no lockfile')
    .update('\0').update(JSON.stringify(configs.map((c) => c ?? null)))
    .update(members.length ? `\0${JSON.stringify(memberFields)}` : '')
    .digest('hex');
  const base: TomlTable = { 'dependencies-sha256': key, 'node-version': runtime.version, 'yarn-version': yarn.version, ...(members.length ? { 'workspace-member': plan.selected || '.' } : {}) };
  const baseEnv = { ...npmEnv(ctx, runtime, join(cache.path, 'npm-cache')), CI: 'true' };
  let env: Record<string, string | undefined> = baseEnv;
  const inputs = lockText !== undefined ? `${pkgFile} and ${lockFile}` : pkgFile;
  let installed = false;

  const install = async (l: Layer, prod: boolean, offline: boolean) => {
    if (!installed && flavor === 'berry') env = { ...baseEnv, ...(await berryEnv(ctx, root, configs[1] ?? '', cache.path)), YARN_ENABLE_IMMUTABLE_INSTALLS: lockText !== undefined ? 'true' : 'false' };
    installed = true;
    const staged = prod ? plan.prodMembers : [...members];
    await writeFile(join(l.path, 'package.json'), JSON.stringify(stagedRootManifest(pkg, flavor, plan, prod), null, 2));
    if (lockText !== undefined) await writeFile(join(l.path, 'yarn.lock'), lockText);
    for (const [i, f] of CONFIG_FILES[flavor].entries()) if (configs[i] !== undefined) await writeFile(join(l.path, f), configs[i]!);
    await stageMembers(root.dir, l.path, staged);
    // berry plugins and patches a .yarnrc.yml or the lockfile may name.
    if (flavor === 'berry') for (const d of ['plugins', 'patches']) await cp(join(root.dir, '.yarn', d), join(l.path, '.yarn', d), { recursive: true }).catch(() => undefined);
    const args = flavor === 'classic'
      ? ['install', ...(lockText !== undefined ? ['--frozen-lockfile'] : []), `--production=${prod}`, '--non-interactive', '--no-progress', '--cache-folder', join(cache.path, 'classic'), ...(offline ? ['--offline'] : [])]
      : prod ? ['workspaces', 'focus', ...(plan.focus ? [plan.focus] : ['--all']), '--production'] : ['install'];
    const scope = plan.selected && prod ? ` (workspace ${plan.selected}${flavor === 'classic' ? `; members installed: ${staged.join(', ')}` : ''})` : '';
    ctx.logger.info(`  Running yarn ${args.filter((a) => !a.startsWith('--cache-folder') && !a.startsWith('/')).join(' ')} for ${inputs}${scope}`);
    await runCommand(`yarn ${args[0]} for ${inputs}`, [runtime.node, yarn.cli, ...args], { cwd: l.path, env });
    for (const f of ['package.json', 'yarn.lock', ...CONFIG_FILES[flavor], '.yarn', '.pnp.cjs', '.pnp.loader.mjs']) await rm(join(l.path, f), { recursive: true, force: true });
    await unstageMembers(l.path, staged);
    // yarn 1's record of the install: registry URLs and host parameters, read only by a later yarn in place.
    await rm(join(l.path, 'node_modules', '.yarn-integrity'), { force: true });
    const withModules = await membersWithModules(l.path, staged);
    const integrity = flavor === 'classic' && lockText !== undefined ? classicIntegrity(lockText, lockFile) : {};
    l.metadata['packages'] = JSON.stringify(await installedComponents([join(l.path, 'node_modules'), ...withModules.map((m) => join(l.path, m, 'node_modules'))], integrity));
    // yarn links members relative to where it ran; point those links at the members in the app.
    await relinkMembers(l.path, root.dir);
    for (const m of withModules) await relinkMembers(l.path, root.dir, join(l.path, m, 'node_modules'));
    await removeEmptyMemberDirs(l.path, staged);
    l.metadata['member-modules'] = withModules;
  };
  const contribute = (name: string, types: LayerTypes, expected: TomlTable, build: (l: Layer) => Promise<void>) =>
    contributeDependencies(ctx, lockText !== undefined, name, { types, expected, build });

  let full: Layer | undefined;
  if (scripts.length > 0) {
    full = await contribute('build-modules', { build: true, cache: true }, { ...base, prod: false }, (l) => install(l, false, false));
    await linkLayer(root, full, ctx.logger);
    await runBuildScripts(ctx, project, runtime, scripts, env);
  }
  const layer = await contribute('modules', { launch: true }, { ...base, prod: true }, (l) => install(l, true, scripts.length > 0 && lockText !== undefined));
  await layer.writeSbom(componentsOf(layer));
  if (full) await unlinkMemberModules(root.dir, full, layer);
  await linkLayer(root, layer, ctx.logger);
  return { installed, scripts };
}

/** Every package under the node_modules directories (name, version, licence) with the lockfile's integrity where known. */
async function installedComponents(dirs: readonly string[], integrity: Readonly<Record<string, string>>): Promise<SbomComponent[]> {
  const out: SbomComponent[] = [];
  const seen = new Set<string>();
  for (const c of (await Promise.all(dirs.map((d) => installedPackages(d)))).flat()) {
    if (seen.has(c.purl!)) continue;
    seen.add(c.purl!);
    const sri = integrity[`${c.name}@${c.version}`];
    out.push(sri && Object.keys(sriHex(sri)).length ? { ...c, hashes: sriHex(sri) } : c);
  }
  return out.sort((a, b) => (a.purl! < b.purl! ? -1 : a.purl! > b.purl! ? 1 : 0));
}

/** The components recorded in a modules layer's metadata at install time. */
function componentsOf(layer: Layer): SbomComponent[] {
  const v = layer.metadata['packages'];
  if (typeof v !== 'string') return [];
  return JSON.parse(v) as SbomComponent[];
}
