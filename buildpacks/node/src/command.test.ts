import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCommand } from './command.js';

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

describe('running a command for the build', () => {
  it('streams the output to the build log', async () => {
    const out = sink();
    const err = sink();
    await runCommand('echo', ['sh', '-c', 'echo to-out; echo to-err >&2'], { cwd: '/', env: { PATH: process.env['PATH'] }, stdout: out, stderr: err });
    expect(out.text).toBe('to-out\n');
    expect(err.text).toBe('to-err\n');
  });

  it('a failure says what ran, where, the status, and its last output lines', async () => {
    const script = 'for i in $(seq 1 60); do echo line $i; done; echo "npm error the real cause" >&2; exit 3';
    const run = runCommand('npm ci for /workspace/package.json', ['sh', '-c', script], { cwd: '/tmp', env: { PATH: process.env['PATH'] }, stdout: sink(), stderr: sink() });
    await expect(run).rejects.toThrow(/^npm ci for \/workspace\/package\.json exited with status 3 \(in \/tmp\); its last output:\n/);
    const message = await run.catch((e: Error) => e.message);
    expect(message).toContain('  | npm error the real cause');
    expect(message).toContain('  | line 60');
    expect(message).not.toContain('  | line 1\n');
  });

  it('a missing executable is named', async () => {
    await expect(runCommand('the build', ['/nonexistent/tool'], { cwd: '/', env: {}, stdout: sink(), stderr: sink() })).rejects.toThrow('the build: cannot run /nonexistent/tool');
  });
});
