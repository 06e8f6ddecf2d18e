import { describe, expect, it } from 'vitest';
import { childFailure, runChild } from './child.js';

const env = { PATH: '/usr/bin:/bin' };

describe('runChild', () => {
  it('gives stdout and stderr as they come, the exit code, and exactly the env it was given', async () => {
    const chunks: Buffer[] = [];
    const r = await runChild('/bin/sh', ['-c', 'echo "out ${HOME-unset}"; echo err >&2; exit 3'], { cwd: '/', env, onOutput: (c) => chunks.push(c) });
    expect(r).toEqual({ exitCode: 3, timedOut: false, cancelled: false });
    expect(Buffer.concat(chunks).toString()).toBe('out unset\nerr\n');
    expect(childFailure(r, undefined)).toBeUndefined();
  });

  it('says why a child did not finish: could not start, timed out, cancelled', async () => {
    const missing = await runChild('/nonexistent/bin/detect', [], { cwd: '/', env });
    expect(missing.exitCode).toBeUndefined();
    expect(childFailure(missing, undefined)).toMatch(/^could not start: spawn \/nonexistent\/bin\/detect ENOENT/);

    const slow = await runChild('/bin/sleep', ['30'], { cwd: '/', env, timeoutMs: 100 });
    expect(slow).toMatchObject({ signal: 'SIGTERM', timedOut: true, cancelled: false });
    expect(childFailure(slow, 100)).toBe('timed out after 100 ms');

    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    const cancelled = await runChild('/bin/sleep', ['30'], { cwd: '/', env, signal: ctl.signal });
    expect(childFailure(cancelled, undefined)).toBe('was cancelled');

    const stopped: number[] = [];
    const custom = await runChild('/bin/sleep', ['30'], { cwd: '/', env, timeoutMs: 50, detached: true, stop: (pid) => (stopped.push(pid), process.kill(-pid, 'SIGKILL')) });
    expect(custom).toMatchObject({ signal: 'SIGKILL', timedOut: true });
    expect(stopped).toHaveLength(1);
  });
});
