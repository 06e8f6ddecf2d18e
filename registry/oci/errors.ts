/**
 * Typed errors shared by every part of lading. Each carries a stable `code`; the CLI maps codes to exit
 * codes in one table (lifecycle/platform/exit-codes.ts). Messages are one line, say what failed and where,
 * and never contain credentials.
 */
export type ErrorCode =
  | 'USAGE' // bad flags or arguments
  | 'REFERENCE_INVALID' // malformed image reference
  | 'TRANSPORT_UNKNOWN' // unknown transport prefix
  | 'NOT_FOUND' // image, tag, layout, blob or file does not exist
  | 'CONTENT_INVALID' // corrupt or malformed content (bad JSON, digest mismatch, wrong size)
  | 'UNSUPPORTED' // content lading cannot handle (unknown manifest media type, schema 1)
  | 'AUTH' // authentication or authorization failed
  | 'NETWORK' // registry unreachable or connection failed after retries
  | 'REGISTRY' // registry answered with an error we do not retry
  | 'IO' // local filesystem failure
  | 'INTERRUPTED' // cancelled by a signal
  | 'INTERNAL'
  | 'STACK_LOCK' // a stack's lock file is missing or does not match stack.toml (run `lading stack lock`)
  | 'KEY' // a signing or verification key cannot be read: not PEM, not ECDSA P-256, encrypted without or with a wrong passphrase
  | 'SIGNATURE' // signing failed, or `lading verify`: no signature, or none that verifies with the key for this image's digest
  // lifecycle phases (CNB platform spec exit codes)
  | 'PLATFORM_API' // platform API not supported
  | 'BUILDPACK_API' // buildpack API not supported
  | 'DETECT_NO_GROUP' // no buildpack group passed detection
  | 'DETECT_ERRORED' // no group passed and a buildpack's detect errored
  | 'DETECT' // detect phase failed
  | 'ANALYZE'
  | 'RESTORE'
  | 'BUILDPACK_FAILED' // a buildpack's bin/build exited non-zero
  | 'BUILD' // build phase failed (lifecycle side)
  | 'EXPORT'
  | 'REBASE';

export interface LadingErrorOptions {
  cause?: unknown;
  /** Whether retrying the same operation may succeed (network blips, 5xx, 429). */
  temporary?: boolean;
}

export class LadingError extends Error {
  readonly code: ErrorCode;
  readonly temporary: boolean;
  constructor(code: ErrorCode, message: string, options: LadingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LadingError';
    this.code = code;
    this.temporary = options.temporary ?? false;
  }
}

export class InvalidContentError extends LadingError {
  constructor(message: string, options: LadingErrorOptions = {}) {
    super('CONTENT_INVALID', message, options);
    this.name = 'InvalidContentError';
  }
}

export class NotFoundError extends LadingError {
  constructor(message: string, options: LadingErrorOptions = {}) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

export class UnsupportedError extends LadingError {
  constructor(message: string, options: LadingErrorOptions = {}) {
    super('UNSUPPORTED', message, options);
    this.name = 'UnsupportedError';
  }
}

export function isLadingError(err: unknown): err is LadingError {
  return err instanceof LadingError;
}
