import { isLadingError, type ErrorCode } from '../../registry/oci/index.js';

/**
 * One table from error code to process exit code. Lifecycle failures use the CNB platform spec's codes
 * (20–22 detect, 32 analyze, 42 restore, 51/52 build, 62 export, 72 rebase); lading's own failures use the
 * spec's "generic" range 1–10. docs/exit-codes.md documents this table; keep them in step.
 */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  INTERNAL: 1,
  USAGE: 2,
  REFERENCE_INVALID: 3,
  TRANSPORT_UNKNOWN: 3,
  NOT_FOUND: 4,
  CONTENT_INVALID: 5,
  UNSUPPORTED: 6,
  AUTH: 7,
  NETWORK: 8,
  REGISTRY: 9,
  IO: 10,
  PLATFORM_API: 11,
  STACK_LOCK: 13,
  KEY: 15,
  SIGNATURE: 16,
  BUILDPACK_API: 12,
  DETECT_NO_GROUP: 20,
  DETECT_ERRORED: 21,
  DETECT: 22,
  ANALYZE: 32,
  RESTORE: 42,
  BUILDPACK_FAILED: 51,
  BUILD: 52,
  EXPORT: 62,
  REBASE: 72,
  INTERRUPTED: 130,
};

export function exitCodeFor(err: unknown): number {
  if (isLadingError(err)) return EXIT_CODES[err.code] ?? 1;
  return 1;
}
