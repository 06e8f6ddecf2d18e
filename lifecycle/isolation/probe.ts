import { constants } from 'node:fs';
import { access, lstat, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { LadingError } from '../../registry/oci/index.js';
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
}

const SBIN = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Finds a working private mount namespace by running a tiny trial per mechanism: `/bin/sh` writes a file to
 * `/layers` and checks `/workspace` exists; the probe passes when the file landed in the trial's own dir.
 * Not cached — see availableIsolation(). Throws UNSUPPORTED naming each mechanism's failure and the
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
      const problem = await trial(isolation, parent, opts.timeoutMs ?? 20_000);
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
  const key = JSON.stringify([opts.mechanisms, opts.tools, opts.searchPath, opts.tmpDir]);
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
    const { execa } = await import('execa'); // loaded when probing, not at CLI start-up
    const run = await execa(inv.file, inv.args, { cwd: inv.cwd, env: inv.env, extendEnv: false, stdin: 'ignore', all: true, reject: false, timeout: timeoutMs });
    const landed = await readFile(join(dirs.layersDir, 'probe'), 'utf8').catch(() => '');
    if (run.exitCode === 0 && landed === 'ok\n') return undefined;
    const said = typeof run.all === 'string' ? run.all.trim().split('\n').pop() : '';
    return said || (run.timedOut ? `timed out after ${timeoutMs} ms` : `exit code ${run.exitCode ?? run.signal}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
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
