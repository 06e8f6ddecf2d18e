import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from './main.js';

function terminal() {
  const sink = () => {
    const w = new Writable({ write(chunk: Buffer, _enc, cb) { (w as unknown as { text: string }).text += chunk.toString(); cb(); } }) as Writable & { text: string };
    w.text = '';
    return w;
  };
  return { stdout: sink(), stderr: sink(), env: { ...process.env, LADING_HOME: '/nonexistent/lading-home' } };
}

describe('lading CLI without the yargs help cache', () => {
  it('a failing command still reports its error (help rendering is covered by test/integration/bin.test.ts)', async () => {
    const u = terminal();
    const code = await run(['build', 'app', '-p', '/nonexistent/app-dir'], u);
    expect(code).not.toBe(0);
    expect(u.stderr.text).toContain('/nonexistent/app-dir');
    expect(u.stdout.text).toBe('');
  });
});
