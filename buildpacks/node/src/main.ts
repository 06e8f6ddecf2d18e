import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BuildpackError,
  NpmSource,
  selectVersionRequest,
  runBuild,
  runDetect,
  type BuildContext,
  type BuildResult,
  type DependencySource,
} from '../../lib/index.js';
import { nodeVersionRequest, npmVersionRequest } from './node-version.js';
import { buildScripts, npmEnv, npmInstall, runBuildScripts } from './npm-install.js';
import { detect } from './detect.js';
import { hasDependencies, projectDir, readProject, type NodeProject } from './project.js';
import { contributeRuntime } from './runtime.js';
import { startProcesses } from './start-command.js';
import { installRoot } from './workspaces.js';
import { DEFAULT_PNPM_VERSION, pnpmInstall } from './pnpm-install.js';
import { yarnInstall, yarnVersionRequest } from './yarn-install.js';

/**
 * The package manager the project uses: the `packageManager` field (which may pin the version), else the
 * lockfile present (an npm lockfile first), else npm.
 */
export function packageManager(project: NodeProject): { name: 'npm' | 'pnpm' | 'yarn'; version?: string } {
  const file = join(project.dir, 'package.json');
  const field = project.packageJson?.packageManager;
  if (field !== undefined) {
    const m = /^(npm|yarn|pnpm)@(\d[^+\s]*)(\+.*)?$/.exec(field.trim());
    if (!m) throw new BuildpackError('CONFIG', `${file}: "packageManager": "${field}" is not one of npm@<version>, yarn@<version>, pnpm@<version>`);
    return { name: m[1] as 'npm' | 'pnpm' | 'yarn', version: m[2]! };
  }
  if (!project.npmLockfile && project.hasPnpmLock) return { name: 'pnpm' };
  if (!project.npmLockfile && project.hasYarnLock) return { name: 'yarn' };
  return { name: 'npm' };
}

export interface BuildOptions {
  /** Injected dependency source (tests); default the user's npm registry from their npm configuration. */
  source?: DependencySource;
}

/** BP_NODE_RESOLVE_TTL: whole seconds, 0 or more. */
export function resolveTtl(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d+$/.test(value.trim())) throw new BuildpackError('CONFIG', `BP_NODE_RESOLVE_TTL "${value}": give whole seconds (0: ask the npm registry on every build)`);
  return Number(value.trim());
}

export async function buildWith(ctx: BuildContext, opts: BuildOptions = {}): Promise<BuildResult> {
  const project = await readProject(projectDir(ctx.appDir, ctx.config('BP_NODE_PROJECT_PATH')));
  const { root, members } = await installRoot(ctx.appDir, project);
  // A workspace member follows its workspace root's package manager.
  const pm = packageManager(root);
  // Version resolutions are kept in the npm-index cache layer for BP_NODE_RESOLVE_TTL seconds (default 3600; 0: ask every build).
  const source = opts.source ?? (await NpmSource.cached(ctx.layers, { env: ctx.env, projectDir: project.dir, maxAge: resolveTtl(ctx.config('BP_NODE_RESOLVE_TTL')) }));
  // A workspace member without its own version files follows the workspace root's.
  const request = [project, root].map((p) => nodeVersionRequest(p, ctx.config('BP_NODE_VERSION'))).find((r) => !r.source.startsWith('buildpack default'));
  const runtime = await contributeRuntime(ctx, source, request ?? nodeVersionRequest(project, undefined), npmVersionRequest(ctx.config('BP_NPM_VERSION'), pm.name === 'npm' ? pm.version : undefined));
  const pkg = project.packageJson;
  if (pkg && pm.name === 'pnpm') {
    const request = selectVersionRequest([
      ctx.config('BP_PNPM_VERSION') !== undefined ? { constraint: ctx.config('BP_PNPM_VERSION')!, source: 'BP_PNPM_VERSION' } : undefined,
      pm.version !== undefined ? { constraint: pm.version, source: 'package.json packageManager' } : undefined,
    ]) ?? { constraint: DEFAULT_PNPM_VERSION, source: 'buildpack default' };
    if (root !== project) ctx.logger.info(`Installing the pnpm workspace at ${root.dir} (members: ${members.join(', ')})`);
    const r = await pnpmInstall(ctx, project, runtime, source, request, root, members);
    if (!r.installed) ctx.logger.info('Dependencies unchanged: pnpm did not run');
  } else if (pkg && pm.name === 'yarn') {
    const lockText = root.hasYarnLock ? await readFile(join(root.dir, 'yarn.lock'), 'utf8') : undefined;
    if (root !== project) ctx.logger.info(`Installing the yarn workspace at ${root.dir} (members: ${members.join(', ')})`);
    const r = await yarnInstall(ctx, project, runtime, source, yarnVersionRequest(ctx.config('BP_YARN_VERSION'), pm.version, lockText), root, members);
    if (!r.installed) ctx.logger.info('Dependencies unchanged: yarn did not run');
  } else if (pkg && (hasDependencies(pkg) || project.npmLockfile || root !== project)) {
    if (root !== project) ctx.logger.info(`Installing the npm workspace at ${root.dir} (members: ${members.join(', ')})`);
    const r = await npmInstall(ctx, project, runtime, root, members);
    if (!r.installed) ctx.logger.info('Dependencies unchanged: npm did not run');
  } else if (pkg) {
    const scripts = buildScripts(pkg.scripts, ctx.config('BP_NODE_RUN_SCRIPTS'), join(project.dir, 'package.json'));
    if (scripts.length) {
      const cache = await ctx.layers.layer('npm-cache', { cache: true });
      await mkdir(cache.path, { recursive: true });
      await runBuildScripts(ctx, project, runtime, scripts, npmEnv(ctx, runtime, cache.path));
    }
  }
  return { processes: await startProcesses(project, runtime, project.dir) };
}

export const build = (ctx: BuildContext): Promise<BuildResult> => buildWith(ctx);

export { detect };

/** The entry bin/build calls (bin/detect runs detect.ts's own bundle). */
export async function main(phase: 'detect' | 'build'): Promise<void> {
  await (phase === 'detect' ? runDetect(detect) : runBuild(build));
}
