import type { Invocation } from '../buildpack/index.js';
import { bwrapArgs, unshareArgs } from './commands.js';
import { buildMounts, hostPaths, imagePaths, type BuildDirs, type ProcessPaths, type RootEntry } from './mounts.js';

/**
 * How buildpack processes get the build's dirs at the image paths (design.md §1):
 * - `bwrap`: bubblewrap, a private mount namespace (plus a user namespace when not root);
 * - `unshare`: util-linux unshare + mount(8), the fallback where bwrap is missing;
 * - `none`: no namespace; buildpacks see the build's dirs at their real paths, which then appear in the
 *   image (the `--workspace`/`--layers-dir` mode).
 */
export type IsolationMechanism = 'bwrap' | 'unshare' | 'none';

/**
 * Runs buildpack processes with a build's dirs mounted (role interface). Write an invocation with the
 * paths from `paths(dirs)`, then run what `wrap(invocation, dirs)` returns; the result runs on the host
 * (its `cwd` exists there) and passes the invocation's env through unchanged.
 */
export interface Isolation {
  readonly mechanism: IsolationMechanism;
  paths(dirs: BuildDirs): ProcessPaths;
  wrap(invocation: Invocation, dirs: BuildDirs): Invocation;
}

/** No namespace: paths are the host's, invocations run as they are. */
export const NO_ISOLATION: Isolation = {
  mechanism: 'none',
  paths: hostPaths,
  wrap: (invocation) => invocation,
};

export interface NamespaceIsolationOptions {
  mechanism: 'bwrap' | 'unshare';
  /** Absolute path of the `bwrap` or `unshare` executable. */
  tool: string;
  /** The host's top level to re-create (readHostRoot()). */
  root: readonly RootEntry[];
  /** For `unshare`: an empty host dir every namespace mounts its private root on. */
  scratchDir?: string;
  /** Whether lading runs as uid 0 (default: process.getuid() === 0). */
  asRoot?: boolean;
}

/** An Isolation through a private mount namespace: `/workspace`, `/layers`, `/platform`, `/cnb/buildpacks/…`. */
export function namespaceIsolation(opts: NamespaceIsolationOptions): Isolation {
  const asRoot = opts.asRoot ?? process.getuid?.() === 0;
  if (opts.mechanism === 'unshare' && !opts.scratchDir) throw new TypeError('namespaceIsolation: unshare needs a scratchDir');
  return {
    mechanism: opts.mechanism,
    paths: imagePaths,
    wrap(invocation, dirs) {
      const mounts = buildMounts(dirs);
      const inner = { file: invocation.file, args: invocation.args, cwd: invocation.cwd };
      const args =
        opts.mechanism === 'bwrap'
          ? bwrapArgs(opts.root, mounts, inner)
          : unshareArgs(opts.root, mounts, inner, { scratchDir: opts.scratchDir!, root: asRoot });
      // The wrapper itself starts on the host, where the namespace's working dir may not exist.
      return { file: opts.tool, args, cwd: '/', env: invocation.env };
    },
  };
}
