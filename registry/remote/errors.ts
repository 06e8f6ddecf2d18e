import { LadingError, type ErrorCode } from '../oci/index.js';

/** One entry of a distribution-spec error body: `{"errors":[{"code","message","detail"}]}`. */
export interface DistributionError {
  code: string;
  message?: string;
}

/** A registry answer we do not accept, with the distribution-spec error body when there was one. */
export class RegistryError extends LadingError {
  readonly status: number | undefined;
  readonly errors: readonly DistributionError[];
  constructor(code: ErrorCode, message: string, details: { status?: number; errors?: DistributionError[]; temporary?: boolean; cause?: unknown } = {}) {
    super(code, redact(message), { temporary: details.temporary ?? false, cause: details.cause });
    this.name = 'RegistryError';
    this.status = details.status;
    this.errors = details.errors ?? [];
  }
}

const SECRETS = new Set<string>();

/** Registers a secret (password, token) so `redact` removes it from any message. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) SECRETS.add(secret);
}

/**
 * Removes credentials from text meant for messages: Authorization values, Bearer/Basic tokens, JWTs,
 * upload `_state` and token query parameters, and every registered secret.
 */
export function redact(text: string): string {
  let out = text
    .replace(/(authorization\s*[:=]\s*)("?)[^",\n]+/gi, '$1$2[redacted]')
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g, '$1 [redacted]')
    .replace(/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted-jwt]')
    .replace(/([?&](?:_state|access_token|token|refresh_token|password|client_secret)=)[^&\s"']*/gi, '$1[redacted]')
    .replace(/(\/\/)[^/@\s:]+:[^/@\s]+@/g, '$1[redacted]@');
  for (const s of SECRETS) out = out.split(s).join('[redacted]');
  return out;
}

/** A URL for messages: path and redacted query only. */
export function describeUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return redact(`${u.host}${u.pathname}${u.search}`);
  } catch {
    return redact(String(url));
  }
}

/** Parses a distribution-spec error body; tolerant of plain text and junk. */
export function parseErrorBody(text: string): DistributionError[] {
  try {
    const doc = JSON.parse(text) as unknown;
    const errors = (doc as { errors?: unknown }).errors;
    if (!Array.isArray(errors)) return [];
    return errors
      .filter((e): e is { code: unknown; message?: unknown } => e !== null && typeof e === 'object' && 'code' in e)
      .map((e) => {
        const d: DistributionError = { code: String(e.code) };
        if (typeof e.message === 'string') d.message = e.message;
        return d;
      });
  } catch {
    return [];
  }
}

function summary(errors: readonly DistributionError[], text: string): string {
  if (errors.length > 0) return errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** The error for an unexpected status; `what` says what we tried, e.g. `GET 127.0.0.1:5000/v2/a/manifests/latest`. */
export function statusError(status: number, what: string, bodyText: string): RegistryError {
  const errors = parseErrorBody(bodyText);
  const detail = summary(errors, bodyText);
  const tail = detail ? `: ${detail}` : '';
  if (status === 401) return new RegistryError('AUTH', `${what}: unauthorized (HTTP 401)${tail}`, { status, errors });
  if (status === 403) return new RegistryError('AUTH', `${what}: access denied (HTTP 403)${tail}`, { status, errors });
  if (status === 404) return new RegistryError('NOT_FOUND', `${what}: not found (HTTP 404)${tail}`, { status, errors });
  const temporary = status === 429 || status >= 500;
  return new RegistryError('REGISTRY', `${what}: HTTP ${status}${tail}`, { status, errors, temporary });
}

/** The error for a connection failure that outlived its retries. */
export function networkError(what: string, cause: unknown): RegistryError {
  const code = (cause as { code?: string } | null)?.code;
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new RegistryError('NETWORK', `${what}: ${code ? `${code} ` : ''}${msg}`, { temporary: true, cause });
}

/** Whether an error is a transport failure worth retrying (resets, refusals, timeouts, aborted bodies). */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof RegistryError) return err.code === 'NETWORK';
  if (err instanceof LadingError) return false;
  const code = (err as { code?: string } | null)?.code ?? '';
  return /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND|UND_ERR_SOCKET|UND_ERR_CLOSED|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|UND_ERR_REQ_RETRY|UND_ERR_ABORTED)$/.test(code)
    || (err instanceof Error && /other side closed|socket hang up|terminated/i.test(err.message));
}
