import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
import { buildScripts, contributeDependencies, linkNodeModules, npmEnv, runBuildScripts, type NpmInstallResult } from './npm-install.js';
import { installedPackages } from './package-sbom.js';
import type { NodeProject } from './project.js';
import { resolveFrom, sriHex, type NodeRuntime } from './runtime.js';
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
 * yarn classic (`yarn install --frozen-lockfile --production`) or berry with the node-modules linker
 * (`yarn install`, then `yarn workspaces focus --all --production` for the image), into layers keyed like
 * npm's (see npmInstall): the lockfile, package.json's dependency fields, yarn's and npm's project config and
 * the Node and yarn versions. The SBOM comes from what was installed and is kept in the layer's metadata, so
 * a reused layer gets the same SBOM.
 */
export async function yarnInstall(ctx: BuildContext, project: NodeProject, runtime: NodeRuntime, source: DependencySource, request: VersionRequest): Promise<NpmInstallResult> {
  const pkgFile = join(project.dir, 'package.json');
  const lockFile = join(project.dir, 'yarn.lock');
  const scripts = buildScripts(project.packageJson!.scripts, ctx.config('BP_NODE_RUN_SCRIPTS'), pkgFile);
  const lockText = project.hasYarnLock ? await readFile(lockFile, 'utf8') : undefined;
  const flavor = yarnFlavor(request);
  if (lockText !== undefined && isBerryLock(lockText) !== (flavor === 'berry')) {
    throw new BuildpackError('CONFIG', `${lockFile} is a ${isBerryLock(lockText) ? 'yarn 2+' : 'yarn classic'} lockfile, but yarn "${request.constraint}" was requested by ${request.source}`);
  }
  const yarn = await contributeYarn(ctx, source, request, flavor);
  const cache = await ctx.layers.layer('yarn-cache', { cache: true });
  await mkdir(cache.path, { recursive: true });
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as Record<string, unknown>;
  const configs = await Promise.all(CONFIG_FILES[flavor].map((f) => readFile(join(project.dir, f), 'utf8').catch(() => undefined)));
  const key = createHash('sha256')
    .update(JSON.stringify(['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'resolutions', 'workspaces'].map((f) => pkg[f] ?? null)))
    .update('\0').update(lockText ?? 'no lockfile')
    .update('\0').update(JSON.stringify(configs.map((c) => c ?? null)))
    .digest('hex');
  const base: TomlTable = { 'dependencies-sha256': key, 'node-version': runtime.version, 'yarn-version': yarn.version };
  const baseEnv = { ...npmEnv(ctx, runtime, join(cache.path, 'npm-cache')), CI: 'true' };
  let env: Record<string, string | undefined> = baseEnv;
  const inputs = lockText !== undefined ? `${pkgFile} and ${lockFile}` : pkgFile;
  let installed = false;

  const install = async (l: Layer, prod: boolean, offline: boolean) => {
    if (!installed && flavor === 'berry') env = { ...baseEnv, ...(await berryEnv(ctx, project, configs[1] ?? '', cache.path)), YARN_ENABLE_IMMUTABLE_INSTALLS: lockText !== undefined ? 'true' : 'false' };
    installed = true;
    const staged = { ...pkg };
    delete staged['scripts'];
    await writeFile(join(l.path, 'package.json'), JSON.stringify(staged, null, 2));
    if (lockText !== undefined) await writeFile(join(l.path, 'yarn.lock'), lockText);
    for (const [i, f] of CONFIG_FILES[flavor].entries()) if (configs[i] !== undefined) await writeFile(join(l.path, f), configs[i]!);
    // berry plugins and patches a .yarnrc.yml or the lockfile may name.
    if (flavor === 'berry') for (const d of ['plugins', 'patches']) await cp(join(project.dir, '.yarn', d), join(l.path, '.yarn', d), { recursive: true }).catch(() => undefined);
    const args = flavor === 'classic'
      ? ['install', ...(lockText !== undefined ? ['--frozen-lockfile'] : []), `--production=${prod}`, '--non-interactive', '--no-progress', '--cache-folder', join(cache.path, 'classic'), ...(offline ? ['--offline'] : [])]
      : prod ? ['workspaces', 'focus', '--all', '--production'] : ['install'];
    ctx.logger.info(`  Running yarn ${args.filter((a) => !a.startsWith('--cache-folder') && !a.startsWith('/')).join(' ')} for ${inputs}`);
    await runCommand(`yarn ${args[0]} for ${inputs}`, [runtime.node, yarn.cli, ...args], { cwd: l.path, env });
    for (const f of ['package.json', 'yarn.lock', ...CONFIG_FILES[flavor], '.yarn', '.pnp.cjs', '.pnp.loader.mjs']) await rm(join(l.path, f), { recursive: true, force: true });
    // yarn 1's record of the install: registry URLs and host parameters, read only by a later yarn in place.
    await rm(join(l.path, 'node_modules', '.yarn-integrity'), { force: true });
    l.metadata['packages'] = JSON.stringify(await installedComponents(join(l.path, 'node_modules'), flavor === 'classic' && lockText !== undefined ? classicIntegrity(lockText, lockFile) : {}));
  };
  const contribute = (name: string, types: LayerTypes, expected: TomlTable, build: (l: Layer) => Promise<void>) =>
    contributeDependencies(ctx, lockText !== undefined, name, { types, expected, build });

  if (scripts.length > 0) {
    const full = await contribute('build-modules', { build: true, cache: true }, { ...base, prod: false }, (l) => install(l, false, false));
    await linkNodeModules(project.dir, join(full.path, 'node_modules'), ctx.logger);
    await runBuildScripts(ctx, project, runtime, scripts, env);
  }
  const layer = await contribute('modules', { launch: true }, { ...base, prod: true }, (l) => install(l, true, scripts.length > 0 && lockText !== undefined));
  await layer.writeSbom(componentsOf(layer));
  await linkNodeModules(project.dir, join(layer.path, 'node_modules'), ctx.logger);
  return { installed, scripts };
}

/** Every package under node_modules (name, version, licence) with the lockfile's integrity where known. */
async function installedComponents(nodeModules: string, integrity: Readonly<Record<string, string>>): Promise<SbomComponent[]> {
  const out: SbomComponent[] = [];
  const seen = new Set<string>();
  for (const c of await installedPackages(nodeModules)) {
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
