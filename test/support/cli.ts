import { Writable } from 'node:stream';
import { run } from '../../lifecycle/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

function collector(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      (w as unknown as { text: string }).text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

/** Runs the CLI in-process with captured output and the given extra environment. */
export async function lading(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const stdout = collector();
  const stderr = collector();
  const code = await run(args, { stdout, stderr, env: { ...process.env, ...env } });
  return {
    code,
    stdout: stdout.text,
    stderr: stderr.text,
    json: <T,>() => JSON.parse(stdout.text) as T,
  };
}
