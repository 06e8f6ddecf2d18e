import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { LadingError, isRecord } from '../oci/index.js';

export interface FileLockOptions {
  /** Give up waiting after this long (default 60 s). */
  timeoutMs?: number;
  /** A lock file older than this is taken to be left by a crashed process (default 60 s). */
  staleMs?: number;
}

interface LockInfo { pid: number; host: string; token: string }

/**
 * Runs `fn` holding an exclusive lock file created with O_EXCL. Waits (bounded) while another process
 * holds it; breaks a lock whose holder is a dead process on this host or that is older than `staleMs`.
 * Holders keep the lock for milliseconds (an index.json rewrite), so an old lock is a crashed one.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const token = await acquire(path, options);
  try {
    return await fn();
  } finally {
    await release(path, token);
  }
}

async function acquire(path: string, options: FileLockOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const staleMs = options.staleMs ?? 60_000;
  const info: LockInfo = { pid: process.pid, host: hostname(), token: randomBytes(12).toString('hex') };
  const started = Date.now();
  let delay = 5;
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(JSON.stringify(info));
      } finally {
        await fh.close();
      }
      return info.token;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LadingError('IO', `cannot create lock file ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (await breakIfStale(path, staleMs)) continue;
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      const holder = await readInfo(path);
      const who = holder ? ` held by pid ${holder.pid} on ${holder.host}` : '';
      throw new LadingError('IO', `timed out after ${Math.round(waited / 1000)}s waiting for lock ${path}${who}`, { temporary: true });
    }
    await sleep(Math.min(delay, timeoutMs - waited) + Math.random() * delay);
    delay = Math.min(delay * 2, 200);
  }
}

async function readInfo(path: string): Promise<LockInfo | undefined> {
  try {
    const doc: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (isRecord(doc) && typeof doc.pid === 'number' && typeof doc.host === 'string' && typeof doc.token === 'string') {
      return doc as unknown as LockInfo;
    }
  } catch {
    // unreadable, vanished, or still being written: not proof of anything
  }
  return undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the lock at `path` if its holder is gone; true when it was removed (or vanished meanwhile). */
async function breakIfStale(path: string, staleMs: number): Promise<boolean> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return true; // released meanwhile
  }
  const holder = await readInfo(path);
  const deadHere = holder !== undefined && holder.host === hostname() && !processAlive(holder.pid);
  const tooOld = Date.now() - st.mtimeMs > staleMs;
  if (!deadHere && !tooOld) return false;
  // Rename first so that two waiters breaking the same stale lock cannot remove a fresh one by mistake.
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return true;
  }
  const moved = await stat(aside).catch(() => undefined);
  if (moved && moved.ino !== st.ino) {
    // Someone replaced the stale lock with a fresh one between our stat and rename: put it back.
    await rename(aside, path).catch(() => {});
    return false;
  }
  await unlink(aside).catch(() => {});
  return true;
}

async function release(path: string, token: string): Promise<void> {
  const holder = await readInfo(path);
  // Only remove our own lock: if it was broken as stale, another process may hold it now.
  if (holder?.token === token) await unlink(path).catch(() => {});
}
