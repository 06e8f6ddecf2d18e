import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withFileLock } from './lock.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lading-lock-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('withFileLock', () => {
  it('serializes holders in one process and removes the lock after', async () => {
    const lock = join(tmp, 'x.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(Array.from({ length: 8 }, () => withFileLock(lock, async () => {
      inside++;
      most = Math.max(most, inside);
      await sleep(5);
      inside--;
    })));
    expect(most).toBe(1);
    expect(existsSync(lock)).toBe(false);
  });

  it('releases the lock when the holder throws', async () => {
    const lock = join(tmp, 'x.lock');
    await expect(withFileLock(lock, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(existsSync(lock)).toBe(false);
  });

  it('waits for a lock another live process holds', { timeout: 20_000 }, async () => {
    const lock = join(tmp, 'x.lock');
    const done = join(tmp, 'child-done');
    const script = `const fs=require('fs');fs.writeFileSync(${JSON.stringify(lock)},JSON.stringify({pid:process.pid,host:require('os').hostname(),token:'child'}),{flag:'wx'});console.log('held');setTimeout(()=>{fs.writeFileSync(${JSON.stringify(done)},'');fs.unlinkSync(${JSON.stringify(lock)})},300)`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    let childWasDone = false;
    await withFileLock(lock, async () => { childWasDone = existsSync(done); });
    expect(childWasDone).toBe(true);
    await exited;
  });

  it('breaks a lock left by a dead process, and one older than staleMs', async () => {
    const lock = join(tmp, 'x.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(lock, JSON.stringify({ pid: Number(dead.stdout.toString()), host: hostname(), token: 'dead' }));
    let ran = false;
    await withFileLock(lock, async () => { ran = true; }, { timeoutMs: 2000 });
    expect(ran).toBe(true);
    writeFileSync(lock, 'garbage from another host');
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    await withFileLock(lock, async () => {}, { timeoutMs: 2000, staleMs: 60_000 });
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('times out with an IO error naming the lock and its holder', async () => {
    const lock = join(tmp, 'x.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), token: 'mine' }));
    await expect(withFileLock(lock, async () => {}, { timeoutMs: 150 })).rejects.toMatchObject({
      code: 'IO', temporary: true, message: expect.stringContaining(`${lock} held by pid ${process.pid}`),
    });
    expect(existsSync(lock)).toBe(true); // a live holder's lock is never broken
  });
});
