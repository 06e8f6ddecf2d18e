import type { Mount, RootEntry } from './mounts.js';

/** What to run inside the namespace: the executable, its args and its working dir there. */
export interface NamespacedCommand {
  file: string;
  args: readonly string[];
  cwd: string;
}

/**
 * bubblewrap arguments: a fresh tmpfs root holding a bind of every top-level host entry (symlinks
 * re-created as symlinks), a new /proc, a minimal /dev, then the build's mounts. bwrap creates mount points
 * inside its own root, so nothing is ever created on the host. The command runs in its own pid namespace
 * that dies with bwrap (a killed build kills the buildpack's whole process tree), in a new session so it
 * cannot push input into lading's terminal.
 */
export function bwrapArgs(root: readonly RootEntry[], mounts: readonly Mount[], command: NamespacedCommand): string[] {
  const args: string[] = [];
  for (const e of root) {
    if (e.kind === 'link') args.push('--symlink', e.target ?? '', e.path);
    else args.push('--bind', e.path, e.path);
  }
  args.push('--proc', '/proc', '--dev', '/dev');
  for (const m of mounts) args.push('--bind', m.source, m.target);
  args.push('--chdir', command.cwd, '--unshare-pid', '--die-with-parent', '--new-session', '--', command.file, ...command.args);
  return args;
}

/**
 * The setup script for the `unshare` fallback, run by `/bin/sh` as root of a new user + mount namespace:
 * mounts a tmpfs on the (empty) scratch dir, re-creates the host's top level in it from `link|file|dir`
 * operations, binds the build's dirs, hides the tmpfs's own alias that the bind of its parent brought in,
 * then chroots into it with `unshare --root --wd` (an exec, so the buildpack keeps the pid lading started).
 * The caller's PATH is used for nothing but the final command. Positional args:
 * `<scratch> <op> <src> <dst> ... -- <cwd> <file> <args...>`.
 */
export const UNSHARE_SETUP_SCRIPT = `set -eu
lading_had_path=\${PATH+1}
lading_path=\${PATH-}
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
root=$1; shift
mount -t tmpfs -o mode=0755 lading-root "$root"
while [ "$1" != -- ]; do
  case $1 in
    link) ln -s "$2" "$root$3" ;;
    file) : > "$root$3"; mount --bind "$2" "$root$3" ;;
    dir) mkdir -p "$root$3"; mount --rbind "$2" "$root$3" ;;
    *) echo "lading isolation: unknown operation $1" >&2; exit 125 ;;
  esac
  shift 3
done
shift
umount -l "$root$root" 2>/dev/null || :
wd=$1; shift
unshare_bin=$(command -v unshare)
if [ -n "$lading_had_path" ]; then PATH=$lading_path; else unset PATH; fi
exec "$unshare_bin" --root="$root" --wd="$wd" -- "$@"
`;

export interface UnshareArgsOptions {
  /** An empty directory on the host; each namespace mounts its private tmpfs root on it. */
  scratchDir: string;
  /** Already root (uid 0): a mount namespace is enough, and keeps access to files of every owner. */
  root: boolean;
}

/** `unshare` arguments for the fallback (util-linux ≥ 2.35 for `--root`/`--wd`). */
export function unshareArgs(root: readonly RootEntry[], mounts: readonly Mount[], command: NamespacedCommand, opts: UnshareArgsOptions): string[] {
  const ops: string[] = [];
  for (const e of root) {
    if (e.kind === 'link') ops.push('link', e.target ?? '', e.path);
    else ops.push(e.kind, e.path, e.path);
  }
  ops.push('dir', '/proc', '/proc', 'dir', '/dev', '/dev');
  for (const m of mounts) ops.push('dir', m.source, m.target);
  const ns = opts.root ? ['--mount'] : ['--user', '--map-root-user', '--mount'];
  return [...ns, '--', '/bin/sh', '-c', UNSHARE_SETUP_SCRIPT, 'lading-isolation', opts.scratchDir, ...ops, '--', command.cwd, command.file, ...command.args];
}
