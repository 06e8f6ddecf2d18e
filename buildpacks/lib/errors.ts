/** Stable codes for what can go wrong inside a buildpack process; the entry points print them with the message. */
export type BuildpackErrorCode =
  | 'CONTRACT' // a contract file or variable is missing or malformed
  | 'INVALID_OUTPUT' // the buildpack asked the SDK to write something the spec forbids
  | 'DEPENDENCY_UNRESOLVED' // no available version satisfies a constraint
  | 'DEPENDENCY_FETCH' // a download or package-manager call failed
  | 'DEPENDENCY_INTEGRITY' // a downloaded file does not match its recorded checksum
  | 'CONFIG' // user configuration (npmrc, env) is unusable
  | 'BUILD_FAILED'; // the buildpack's own work failed (a command, a layer callback)

/** An error a buildpack author or user can act on: says what failed, on which file, and why. */
export class BuildpackError extends Error {
  readonly code: BuildpackErrorCode;
  constructor(code: BuildpackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BuildpackError';
    this.code = code;
  }
}

/** The message of any thrown value, with the causes chained in (one line each). */
export function describeError(err: unknown): string {
  const lines: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 5; depth++) {
    if (cur instanceof Error) {
      lines.push(depth === 0 ? cur.message : `caused by: ${cur.message}`);
      cur = cur.cause;
    } else {
      lines.push(depth === 0 ? String(cur) : `caused by: ${String(cur)}`);
      cur = undefined;
    }
  }
  return lines.join('\n');
}
