import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { runProcess } from './run.js';

const sh = (script: string) => ({ file: '/bin/sh', args: ['-c', script], cwd: '/', env: { PATH: '/usr/bin:/bin' } });

describe('runProcess — buildpack output streamed, tail kept for errors', () => {
  it('streams stdout and stderr as they come and keeps only the last lines', async () => {
    const chunks: string[] = [];
    const result = await runProcess(sh('for i in $(seq 1 100); do echo "line $i"; done; echo "oops" >&2; exit 7'), { onOutput: (c) => chunks.push(c), tailLines: 3 });
    expect(result.code).toBe(7);
    expect(result.tail).toBe('line 99\nline 100\noops');
    expect(chunks.join('')).toBe([...Array.from({ length: 100 }, (_, i) => `line ${i + 1}`), 'oops', ''].join('\n'));
  });

  it('runs with exactly the given env', async () => {
    const result = await runProcess({ ...sh('echo "A=$A HOME=${HOME-unset}"'), env: { PATH: '/usr/bin:/bin', A: 'x' } });
    expect(result).toEqual({ code: 0, tail: 'A=x HOME=unset' });
  });

  it('a process that cannot start or is cancelled has code -1 and a reason', async () => {
    const missing = await runProcess({ ...sh(''), file: '/nonexistent/bin/build' });
    expect(missing.code).toBe(-1);
    expect(missing.error?.message).toMatch(/^\/nonexistent\/bin\/build could not start/);
    const ctl = new AbortController();
    const cancelled = await runProcess(sh('sleep 30 & echo "$!"; wait'), { signal: ctl.signal, onOutput: () => ctl.abort() });
    expect(cancelled.code).toBe(-1);
    expect(cancelled.error?.code).toBe('INTERRUPTED');
    // The buildpack's own children go too, not just the process lading started.
    const sleeper = Number(cancelled.tail);
    expect(await gone(sleeper)).toBe(true);
  });
});

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 60; i++) {
    // A killed process may linger as a zombie until its new parent reaps it; that counts as gone.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
