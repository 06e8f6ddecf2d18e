import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, mkdtemp, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { LadingError } from '../../registry/oci/index.js';
import { runChild } from '../buildpack/index.js';
import { namespaceIsolation, type Isolation } from './isolation.js';
import { IMAGE_APP_DIR, IMAGE_LAYERS_DIR, readHostRoot, type RootEntry } from './mounts.js';

export interface ProbeIsolationOptions {
  /** Mechanisms to try, in order (default: bwrap, then unshare). */
  mechanisms?: readonly ('bwrap' | 'unshare')[];
  /** Explicit executables; otherwise each is looked up on `searchPath`. */
  tools?: { bwrap?: string; unshare?: string };
  /** PATH to search for the tools (default: this process's PATH plus the sbin dirs). */
  searchPath?: string;
  /** Parent of the probe's scratch dirs and of the unshare fallback's root mount point (default: OS temp dir). */
  tmpDir?: string;
  /** The host's top level (default: readHostRoot()). */
  root?: readonly RootEntry[];
  /** Kill a probe that hangs after this long (default 20 s). */
  timeoutMs?: number;
  /**
   * Where a passing probe is remembered (`isolation-probe.json`; lading uses LADING_HOME/cache): a later
   * probe by the same user, in the same boot, mount and user namespace, seccomp and capabilities, with the
   * same tool binary and namespace sysctls, takes that answer instead of running the trial. A failed probe is
   * never remembered.
   */
  memoDir?: string;
}

const SBIN = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Finds a working private mount namespace by running a tiny trial per mechanism: `/bin/sh` writes a file to
 * `/layers` and checks `/workspace` exists; the probe passes when the file landed in the trial's own dir.
 * Not cached in memory — see availableIsolation() — but a passing trial is remembered in `memoDir` when
 * given. Throws UNSUPPORTED naming each mechanism's failure and the
 * `--workspace`/`--layers-dir` fallback when none works.
 */
export async function probeIsolation(opts: ProbeIsolationOptions = {}): Promise<Isolation> {
  const mechanisms = opts.mechanisms ?? ['bwrap', 'unshare'];
  const root = opts.root ?? readHostRoot();
  const parent = opts.tmpDir ?? tmpdir();
  const failures: string[] = [];
  for (const mechanism of mechanisms) {
    const tool = opts.tools?.[mechanism] ?? (await findExecutable(mechanism, opts.searchPath ?? [process.env['PATH'] ?? '', ...SBIN].join(delimiter)));
    if (!tool) {
      failures.push(`${mechanism}: not installed`);
      continue;
    }
    try {
      const isolation = namespaceIsolation({ mechanism, tool, root, ...(mechanism === 'unshare' ? { scratchDir: await scratchDir(parent) } : {}) });
      const key = opts.memoDir ? await probeKey(mechanism, tool, root, parent) : undefined;
      if (key && (await remembered(opts.memoDir!, key))) return isolation;
      const problem = await trial(isolation, parent, opts.timeoutMs ?? 20_000);
      if (!problem && key) await remember(opts.memoDir!, key);
      if (!problem) return isolation;
      failures.push(`${mechanism} (${tool}): ${problem}`);
    } catch (err) {
      if (!(err instanceof LadingError)) throw err;
      failures.push(`${mechanism}: ${err.message}`);
    }
  }
  throw new LadingError(
    'UNSUPPORTED',
    `cannot give buildpacks a private /workspace and /layers: user namespaces are unavailable (${failures.join('; ')}); ` +
      'pass --workspace DIR and --layers-dir DIR to build without a namespace (those paths then appear in the image)',
  );
}

const cache = new Map<string, Promise<Isolation>>();

/** probeIsolation() once per process and set of options; later calls share the first probe's answer. */
export function availableIsolation(opts: ProbeIsolationOptions = {}): Promise<Isolation> {
  const key = JSON.stringify([opts.mechanisms, opts.tools, opts.searchPath, opts.tmpDir, opts.memoDir]);
  let found = cache.get(key);
  if (!found) {
    found = probeIsolation(opts);
    cache.set(key, found);
  }
  return found;
}

async function trial(isolation: Isolation, parent: string, timeoutMs: number): Promise<string | undefined> {
  const dir = await mkdtemp(join(parent, 'lading-probe-'));
  try {
    const dirs = { appDir: join(dir, 'workspace'), layersDir: join(dir, 'layers') };
    await mkdir(dirs.appDir);
    await mkdir(dirs.layersDir);
    const script = `echo ok > ${IMAGE_LAYERS_DIR}/probe && test -d ${IMAGE_APP_DIR}`;
    const inv = isolation.wrap({ file: '/bin/sh', args: ['-c', script], cwd: IMAGE_APP_DIR, env: { PATH: SBIN.join(':') } }, dirs);
    const chunks: Buffer[] = [];
    const run = await runChild(inv.file, inv.args, { cwd: inv.cwd, env: inv.env, timeoutMs, onOutput: (c) => chunks.push(c) });
    const landed = await readFile(join(dirs.layersDir, 'probe'), 'utf8').catch(() => '');
    if (run.exitCode === 0 && landed === 'ok\n') return undefined;
    const said = Buffer.concat(chunks).toString('utf8').trim().split('\n').pop();
    return said || (run.startError ? run.startError.message : run.timedOut ? `timed out after ${timeoutMs} ms` : `exit code ${run.exitCode ?? run.signal}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const MEMO_FILE = 'isolation-probe.json';

/**
 * What a trial's outcome depends on, hashed: the mechanism and its binary (path, size, mtime, inode), the
 * host's top level it binds, the scratch parent, who we are (uid, gid, seccomp, no_new_privs, capabilities:
 * /proc/self/status), where we are (this boot, this mount and user namespace: a container is another) and
 * the kernel's user-namespace switches. Undefined when any of it cannot be read: probe every time then.
 */
async function probeKey(mechanism: string, tool: string, root: readonly RootEntry[], parent: string): Promise<string | undefined> {
  try {
    const st = await stat(tool);
    const status = (await readFile('/proc/self/status', 'utf8')).split('\n').filter((l) => /^(Uid|Gid|Seccomp|NoNewPrivs|Cap(Eff|Bnd)):/.test(l));
    const sysctls = await Promise.all(
      ['kernel/unprivileged_userns_clone', 'user/max_user_namespaces', 'user/max_mnt_namespaces', 'kernel/apparmor_restrict_unprivileged_userns'].map((k) =>
        readFile(`/proc/sys/${k}`, 'utf8').then((v) => `${k}=${v.trim()}`, () => `${k}: none`),
      ),
    );
    const parts = {
      mechanism, tool: [tool, st.size, st.mtimeMs, st.ino], root, parent, status, sysctls,
      boot: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
      ns: [await readlink('/proc/self/ns/mnt'), await readlink('/proc/self/ns/user')],
    };
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  } catch {
    return undefined;
  }
}

async function remembered(dir: string, key: string): Promise<boolean> {
  const text = await readFile(join(dir, MEMO_FILE), 'utf8').catch(() => '');
  try {
    return (JSON.parse(text) as { passed?: unknown }).passed === key;
  } catch {
    return false; // damaged: probe again and rewrite it
  }
}

async function remember(dir: string, key: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${MEMO_FILE}.${randomBytes(6).toString('hex')}`);
    await writeFile(tmp, `${JSON.stringify({ passed: key })}\n`);
    await rename(tmp, join(dir, MEMO_FILE));
  } catch {
    // only a shortcut: the next build probes again
  }
}

/**
 * The unshare fallback's mount point: one empty dir per user, shared by every build (each namespace mounts
 * its own tmpfs on it, invisible to the host). Refuses a dir someone else made, or a symlink in its place.
 */
async function scratchDir(parent: string): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const dir = join(parent, `lading-isolation-${uid}`);
  await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw new LadingError('IO', `${dir}: cannot create the isolation mount point: ${err.message}`, { cause: err });
  });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== uid) {
    throw new LadingError('IO', `${dir}: not a directory owned by uid ${uid}; remove it so lading can use it as its mount point`);
  }
  return dir;
}

async function findExecutable(name: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
