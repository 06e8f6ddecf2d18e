import { spawn } from 'node:child_process';
import { BuildpackError } from '../../lib/index.js';

export interface CommandOptions {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Where the command's output goes as it runs (the build log); default this process's stdout/stderr. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Lines kept from a failing command's output for the error message. */
const TAIL_LINES = 40;

/**
 * Runs a command with its output streamed to the build log. A failure throws a BuildpackError that says
 * what ran, where, the exit status, and the last lines the command printed, so the cause is not buried.
 */
export async function runCommand(what: string, argv: readonly string[], opts: CommandOptions): Promise<void> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runCommand: empty command');
  const out = opts.stdout ?? process.stdout;
  const err = opts.stderr ?? process.stderr;
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split(/\r?\n/)) if (line.trim() !== '') tail.push(line);
    if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
  };
  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (c: Buffer) => {
      out.write(c);
      keep(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      err.write(c);
      keep(c);
    });
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  if (result.error) throw new BuildpackError('BUILD_FAILED', `${what}: cannot run ${file}: ${result.error.message}`, { cause: result.error });
  if (result.code === 0) return;
  const status = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
  const output = tail.length ? `\n${tail.map((l) => `  | ${l}`).join('\n')}` : ' (no output)';
  throw new BuildpackError('BUILD_FAILED', `${what} ${status} (in ${opts.cwd}); its last output:${output}`);
}
