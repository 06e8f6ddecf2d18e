import childProcess from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';

/**
 * Build replay (docs/buildpacks.md "Build replay"): a buildpack whose bin/build is the SDK's replaying launcher
 * keeps, after a build that changed nothing (no layer filled, no program run, no connection made, nothing
 * written but its own TOML and SBOM files), what that build wrote and what it looked at. The next bin/build
 * compares, in sh, everything the kept build depended on: its program, its arguments, its environment, its plan,
 * the files at the top of its layers dir, and each file, directory listing and file kind the build's code read
 * (recorded here by watching node:fs). When all are the same it writes the same files and prints the same
 * output, without starting node (~0.1 s of every rebuild whose dependencies did not change). Anything else runs
 * the build as usual. The record is a cache layer of the buildpack's own, never part of the image.
 *
 * What the watch cannot see: a read through an fs function a CommonJS dependency took out of node:fs before
 * the watch began, and anything not made of node:fs calls (the uid, the clock beyond noteFreshUntil). Code of a
 * buildpack that replays reads its inputs through node:fs and entryKind.
 */
export const REPLAY_LAYER = 'lading-build-replay';
/** The launcher's digest of what it compares before starting node (its program, arguments, env, plan, layers dir). */
export const REPLAY_KEY_ENV = 'LADING_BUILD_REPLAY_KEY';

/**
 * How a path was looked at, as the launcher looks at it again: c the bytes of a file, s stat (kind, size, mode,
 * mtime), t lstat, e only the kind (file, directory, other, none), l a directory's names, r the resolved path,
 * k a symlink's target, x nothing there (a path in the app dir the build made).
 */
export type InputKind = 'c' | 's' | 't' | 'e' | 'l' | 'r' | 'k' | 'x';

interface Recording {
  layersDir: string;
  replayDir: string;
  tmp: string;
  /** What this build made under the temp dir: reading it back says nothing about the inputs. */
  made: string[];
  /** The app dir (the working directory). */
  appDir: string;
  /** Paths in the app dir that were not there when the build first wrote them: a replay needs them absent too. */
  absent: Set<string>;
  /** Symlinks the build made in the app dir (path → target): a replay makes them again. */
  links: Map<string, string>;
  /** Paths the launcher already covers (the plan file) or that say nothing about the app. */
  ignored: Set<string>;
  inputs: Map<string, Set<InputKind>>;
  /** Why this build is not kept for replay; undefined while it still may be. */
  unsteady?: string;
  output: string[];
  /** Seconds since the epoch after which a decision this build took from a memoized answer no longer holds. */
  freshUntil: number;
}

let recording: Recording | undefined;

/**
 * A memoized answer (a version resolution, a registry) was used that holds until `epochSeconds`: a replay after
 * that time runs the build instead, so the question is asked again.
 */
export function noteFreshUntil(epochSeconds: number): void {
  if (recording) recording.freshUntil = Math.min(recording.freshUntil, epochSeconds);
}

/** Marks the build as one not to replay (it changed something a replay would not). */
export function noteUnsteady(why: string): void {
  if (recording && recording.unsteady === undefined) recording.unsteady = why;
}

/**
 * The kind of what `path` names, following symlinks: the question `isFile` asks, recorded as that question only
 * (a replay needs the same kind, not the same bytes: an edited server.js does not change the start command).
 */
export function entryKind(path: string): 'file' | 'dir' | 'other' | undefined {
  observe('e', path);
  let st;
  try {
    st = original.statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
  return st === undefined ? undefined : st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
}

const original = {
  statSync: fs.statSync,
  lstatSync: fs.lstatSync,
};

function absolute(path: unknown): string | undefined {
  if (typeof path === 'string') return resolve(path);
  if (path instanceof URL && path.protocol === 'file:') return resolve(decodeURIComponent(path.pathname));
  if (Buffer.isBuffer(path)) return resolve(path.toString());
  return undefined;
}

const under = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);

function observe(kind: InputKind, raw: unknown): void {
  const r = recording;
  // a build already known not to be kept needs no list of what it read (a cold build reads thousands of files)
  if (!r || r.unsteady !== undefined) return;
  if (typeof raw === 'number') return; // a descriptor: how it was opened was recorded
  const path = throughLinks(r, absolute(raw));
  if (path === undefined) return noteUnsteady(`read ${String(raw)}`);
  // the top of the layers dir (its files and listing) is in the launcher's key, as it was when the build began
  if (r.ignored.has(path) || dirname(path) === r.layersDir || under(path, r.replayDir) || r.made.some((m) => under(path, m)) || /^\/(proc|dev|sys)(\/|$)/.test(path)) return;
  if (path.includes('\n')) return noteUnsteady(`read ${JSON.stringify(path)}`);
  let kinds = r.inputs.get(path);
  if (!kinds) r.inputs.set(path, (kinds = new Set()));
  kinds.add(kind);
}

/** A path under a symlink this build made in the app dir, as the path it names (what a replay reads before making the link). */
function throughLinks(r: Recording, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  for (const [link, target] of r.links) if (under(path, link)) return resolve(dirname(link), target) + path.slice(link.length);
  return path;
}

/**
 * A write is one a replay reproduces only when it is one of the buildpack's own files at the top of its layers
 * dir (`<layer>.toml`, SBOM files, launch.toml, …), under the temp dir, or a directory made that was there
 * already. Anything else (a layer's contents, the app dir) makes the build one not to replay.
 */
function written(op: string, raw: unknown, opts: { mkdir?: boolean; linkTarget?: unknown } = {}): void {
  const r = recording;
  if (!r || r.unsteady !== undefined) return;
  const path = absolute(raw);
  if (path === undefined) return noteUnsteady(`${op} ${String(raw)}`);
  if (under(path, r.tmp)) return madeInTemp(r, path);
  if (under(path, r.replayDir)) return;
  const st = original.lstatSync(path, { throwIfNoEntry: false });
  // in the app dir: removing what is not there, and making a symlink where there was nothing (node_modules
  // pointing into a layer), are what a replay does again; a path it made may be removed again
  if (under(path, r.appDir) && path !== r.appDir) {
    const made = r.absent.has(path);
    if (op === 'rm' && (st === undefined || (made && r.links.has(path)))) {
      if (st === undefined && !made) r.absent.add(path);
      r.links.delete(path);
      return;
    }
    if (op === 'symlink' && st === undefined && typeof opts.linkTarget === 'string' && !path.includes('\n') && !opts.linkTarget.includes('\n')) {
      r.absent.add(path);
      r.links.set(path, opts.linkTarget);
      return;
    }
  }
  if (opts.mkdir && st?.isDirectory()) return; // there already: nothing changes
  // one of its own files at the top of its layers dir (a new or removed directory there is a layer)
  if (dirname(path) === r.layersDir && !opts.mkdir && !st?.isDirectory()) return;
  noteUnsteady(`${op} ${path}`);
}

function madeInTemp(r: Recording, path: string): void {
  if (!r.made.some((m) => under(path, m))) r.made.push(path);
}

type Fn = (...args: unknown[]) => unknown;

/** Wraps `obj[name]` so each call is seen first by `before(args)`. */
function wrap(obj: Record<string, unknown>, name: string, before: (args: unknown[]) => void): void {
  const fn = obj[name];
  if (typeof fn !== 'function') return;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    before(args);
    return (fn as Fn).apply(this, args);
  };
  // realpath.native and the like
  for (const key of Object.keys(fn)) (wrapped as unknown as Record<string, unknown>)[key] = (fn as unknown as Record<string, unknown>)[key];
  obj[name] = wrapped;
}

const WRITE_FLAGS = /[wa+]/;

function installWatchers(): void {
  const targets = [fs as unknown as Record<string, unknown>, fs.promises as unknown as Record<string, unknown>];
  for (const t of targets) {
    const read = (kind: InputKind, ...names: string[]) => {
      for (const n of names) for (const variant of [n, `${n}Sync`]) wrap(t, variant, (a) => observe(kind, a[0]));
    };
    read('c', 'readFile');
    read('s', 'stat');
    read('t', 'lstat');
    read('e', 'access', 'exists');
    read('l', 'readdir', 'opendir');
    read('r', 'realpath');
    read('k', 'readlink');
    wrap(t, 'createReadStream', (a) => observe('c', a[0]));
    for (const variant of ['open', 'openSync']) {
      wrap(t, variant, (a) => {
        const flags = a[1];
        if (typeof flags === 'string' && WRITE_FLAGS.test(flags)) written('open', a[0]);
        else if (typeof flags === 'number' && (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND)) !== 0) written('open', a[0]);
        else observe('c', a[0]);
      });
    }
    const write = (...names: string[]) => {
      for (const n of names) for (const variant of [n, `${n}Sync`]) wrap(t, variant, (a) => written(n, a[0]));
    };
    write('writeFile', 'appendFile', 'rm', 'rmdir', 'unlink', 'chmod', 'lchmod', 'chown', 'lchown', 'utimes', 'lutimes', 'truncate');
    // a temp dir: what it makes is known only from the answer
    const made = (dir: unknown) => {
      if (typeof dir === 'string' && recording && under(resolve(dir), recording.tmp)) madeInTemp(recording, resolve(dir));
      else written('mkdtemp', dir);
    };
    const mkdtempSync = t['mkdtempSync'];
    if (typeof mkdtempSync === 'function') t['mkdtempSync'] = (...a: unknown[]) => { const dir = (mkdtempSync as Fn)(...a); made(dir); return dir; };
    const mkdtemp = t['mkdtemp'];
    if (typeof mkdtemp === 'function') {
      t['mkdtemp'] = (...a: unknown[]) => {
        if (typeof a[a.length - 1] === 'function') {
          const cb = a.pop() as Fn;
          return (mkdtemp as Fn)(...a, (err: unknown, dir: unknown) => { if (!err) made(dir); cb(err, dir); });
        }
        return (mkdtemp as (...x: unknown[]) => Promise<unknown>)(...a).then((dir) => { made(dir); return dir; });
      };
    }
    for (const variant of ['mkdir', 'mkdirSync']) wrap(t, variant, (a) => written('mkdir', a[0], { mkdir: true }));
    for (const n of ['rename', 'copyFile', 'link', 'symlink']) {
      for (const variant of [n, `${n}Sync`]) {
        wrap(t, variant, (a) => {
          if (n === 'rename') written(n, a[0]);
          else if (n !== 'symlink') observe('c', a[0]);
          written(n, a[1], n === 'symlink' ? { linkTarget: a[0] } : {});
        });
      }
    }
    // a whole tree read or written: not something a replay checks
    for (const variant of ['cp', 'cpSync']) wrap(t, variant, (a) => noteUnsteady(`cp ${String(a[0])}`));
    wrap(t, 'createWriteStream', (a) => written('createWriteStream', a[0]));
  }
  syncBuiltinESMExports();
  const cp = childProcess as unknown as Record<string, unknown>;
  wrap(childProcess.ChildProcess.prototype as unknown as Record<string, unknown>, 'spawn', () => noteUnsteady('ran a program'));
  for (const n of ['spawnSync', 'execSync', 'execFileSync']) wrap(cp, n, () => noteUnsteady('ran a program'));
  wrap(net.Socket.prototype as unknown as Record<string, unknown>, 'connect', () => noteUnsteady('made a connection'));
  for (const stream of [process.stdout, process.stderr]) {
    const w = stream.write.bind(stream) as Fn;
    (stream as unknown as { write: Fn }).write = (chunk: unknown, ...rest: unknown[]) => {
      recording?.output.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      return w(chunk, ...rest);
    };
  }
}

let installed = false;

/**
 * Starts watching this build (called by runBuild before anything is read) when the launcher asked for it:
 * `REPLAY_KEY_ENV` set. A no-op otherwise.
 */
export function startReplayRecording(env: Readonly<Record<string, string | undefined>>, layersDir: string, planPath: string, appDir = process.cwd()): void {
  if (!env[REPLAY_KEY_ENV] || recording) return;
  const dir = resolve(layersDir);
  recording = {
    layersDir: dir,
    replayDir: join(dir, REPLAY_LAYER),
    tmp: resolve(tmpdir()),
    made: [],
    appDir: resolve(appDir),
    absent: new Set(),
    links: new Map(),
    ignored: new Set([resolve(planPath), dir]),
    inputs: new Map(),
    output: [],
    freshUntil: Number.POSITIVE_INFINITY,
  };
  if (!installed) {
    installWatchers();
    installed = true;
  }
}

/**
 * Ends the watch. After a build that exited 0 and may be replayed, writes the record into the replay layer for
 * the launcher, which completes it (`observed`, what the inputs look like now) once node has exited; otherwise
 * removes any earlier record, so that nothing stale is replayed.
 */
export async function finishReplayRecording(env: Readonly<Record<string, string | undefined>>, exitCode: number, debug?: (message: string) => void): Promise<void> {
  const r = recording;
  recording = undefined;
  if (!r) return;
  const toml = `${r.replayDir}.toml`;
  const forget = async () => {
    await fs.promises.rm(r.replayDir, { recursive: true, force: true });
    await fs.promises.rm(toml, { force: true });
  };
  await forget();
  try {
    await keep(r, env, exitCode, toml, debug);
  } catch {
    // a record that cannot be written costs the next build its replay, nothing else
    await forget().catch(() => undefined);
  }
}

async function keep(r: Recording, env: Readonly<Record<string, string | undefined>>, exitCode: number, toml: string, debug?: (message: string) => void): Promise<void> {
  const { mkdir, readdir, writeFile, copyFile } = fs.promises;
  if (exitCode !== 0 || r.unsteady !== undefined) {
    if (exitCode === 0) debug?.(`not kept for replay: ${r.unsteady}`);
    return;
  }
  const out = join(r.replayDir, 'out');
  await mkdir(out, { recursive: true });
  await writeFile(toml, '[types]\ncache = true\n');
  for (const e of await readdir(r.layersDir, { withFileTypes: true })) {
    if (e.isFile()) await copyFile(join(r.layersDir, e.name), join(out, e.name));
    else if (!e.isDirectory()) throw new Error(`${e.name}: neither a file nor a layer directory`);
  }
  const lines: string[] = [];
  // what the build made in the app dir was checked absent before; what it looked at there since is its own work
  for (const [path, kinds] of r.inputs) if (![...r.absent].some((a) => under(path, a))) for (const k of kinds) lines.push(`${k} ${path}`);
  for (const path of r.absent) lines.push(`x ${path}`);
  lines.sort();
  await writeFile(join(r.replayDir, 'links'), [...r.links].map(([path, target]) => `${path}\n${target}\n`).join(''));
  await writeFile(join(r.replayDir, 'inputs'), lines.map((l) => `${l}\n`).join(''));
  await writeFile(join(r.replayDir, 'log'), r.output.join(''));
  const until = join(r.replayDir, 'until');
  await writeFile(until, Number.isFinite(r.freshUntil) ? `${Math.floor(r.freshUntil)}\n` : 'never\n');
  // the launcher compares the file's mtime with the time now (`test -nt`), which sh cannot read without a program
  if (Number.isFinite(r.freshUntil)) await fs.promises.utimes(until, Math.floor(r.freshUntil), Math.floor(r.freshUntil));
  // last: the launcher takes a record only with its key, and adds `observed` itself
  await writeFile(join(r.replayDir, 'key'), `${env[REPLAY_KEY_ENV]}\n`);
}
