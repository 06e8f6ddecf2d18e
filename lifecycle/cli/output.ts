import type { Writable } from 'node:stream';
import { isLadingError, type Digest } from '../../registry/oci/index.js';

/** Where the CLI writes: results to stdout, logs and progress to stderr (so `--json` stays parseable). */
export interface Terminal {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  #statusShown = false;
  constructor(private readonly term: Terminal, options: { json?: boolean; verbose?: boolean } = {}) {
    this.json = options.json ?? false;
    this.verbose = options.verbose ?? false;
  }

  /** A result line for humans (stdout). Suppressed under --json. */
  print(line = ''): void {
    if (!this.json) this.term.stdout.write(`${line}\n`);
  }

  /** The single result object under --json. */
  result(value: unknown): void {
    this.term.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A log line (stderr). */
  log(line: string): void {
    this.clearStatus();
    this.term.stderr.write(`${line}\n`);
  }

  debug(line: string): void {
    if (this.verbose) this.log(line);
  }

  /** A transient progress line: rewritten in place on a TTY, printed only with --verbose otherwise (CI logs stay short). */
  status(line: string): void {
    if (this.term.stderr.isTTY && !this.term.env.CI) {
      this.term.stderr.write(`\r\x1b[2K${line.slice(0, 200)}`);
      this.#statusShown = true;
    } else if (this.verbose) {
      this.term.stderr.write(`${line}\n`);
    }
  }

  clearStatus(): void {
    if (this.#statusShown) {
      this.term.stderr.write('\r\x1b[2K');
      this.#statusShown = false;
    }
  }

  /** Reports an error and returns the exit code (the table loads only when something failed). */
  async error(err: unknown): Promise<number> {
    this.clearStatus();
    const { exitCodeFor } = await import('../platform/index.js');
    const code = exitCodeFor(err);
    const message = err instanceof Error ? err.message : String(err);
    if (this.json) {
      this.term.stdout.write(`${JSON.stringify({ error: { code: isLadingError(err) ? err.code : 'INTERNAL', exitCode: code, message } })}\n`);
    } else {
      this.term.stderr.write(`lading: ${message}\n`);
      if (!isLadingError(err) && err instanceof Error && err.stack) this.term.stderr.write(`${err.stack}\n`);
      else if (this.verbose && err instanceof Error && err.cause) this.term.stderr.write(`  cause: ${String((err.cause as Error).message ?? err.cause)}\n`);
    }
    return code;
  }
}

export function shortDigest(d: Digest | string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
