import { describeError } from './errors.js';

/** Where a buildpack's log lines go: its stdout (info) and stderr (warnings, errors) per the CNB contract. */
export interface LogSink {
  write(chunk: string): unknown;
}

export interface LoggerOptions {
  stdout?: LogSink;
  stderr?: LogSink;
  /** Print debug lines too (BP_LOG_LEVEL=DEBUG). */
  debug?: boolean;
}

/** The one logger of a buildpack process (design.md §8): every SDK message goes through it. */
export class Logger {
  readonly #out: LogSink;
  readonly #err: LogSink;
  readonly #debug: boolean;

  constructor(opts: LoggerOptions = {}) {
    this.#out = opts.stdout ?? process.stdout;
    this.#err = opts.stderr ?? process.stderr;
    this.#debug = opts.debug ?? false;
  }

  /** A logger configured from the environment: BP_LOG_LEVEL=DEBUG enables debug lines. */
  static fromEnv(env: Readonly<Record<string, string | undefined>>, opts: Omit<LoggerOptions, 'debug'> = {}): Logger {
    return new Logger({ ...opts, debug: (env['BP_LOG_LEVEL'] ?? '').toUpperCase() === 'DEBUG' });
  }

  info(message: string): void {
    this.#out.write(`${message}\n`);
  }

  /** A section heading, e.g. the buildpack's name and version. */
  title(message: string): void {
    this.#out.write(`\n${message}\n`);
  }

  debug(message: string): void {
    if (this.#debug) this.#out.write(`[debug] ${message}\n`);
  }

  warn(message: string): void {
    this.#err.write(`WARNING: ${message}\n`);
  }

  error(message: string | unknown): void {
    const text = typeof message === 'string' ? message : describeError(message);
    this.#err.write(`ERROR: ${text.replace(/\n/g, '\n  ')}\n`);
  }
}
