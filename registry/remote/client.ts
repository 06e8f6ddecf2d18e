import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { BlobPutResult, Digest } from '../oci/index.js';
import { Authenticator, readLimited } from './auth.js';
import type { BlobLocations } from './blob-locations.js';
import { defaultCredentials, type CredentialResolver } from './credentials.js';
import { RegistryError, describeUrl, isConnectionError, networkError, redact, statusError } from './errors.js';
import { isRetryableStatus, parseRetryAfter, retryPolicy, type RetryOptions, type RetryPolicy } from './retry.js';
import { parseWwwAuthenticate, pickChallenge } from './www-authenticate.js';
import { undici } from './undici.js';

/** Progress and diagnostics; the library never prints, callers decide what to show. */
export type RegistryEvent =
  | { type: 'retry'; registry: string; what: string; attempt: number; delayMs: number; reason: string }
  | { type: 'blob'; registry: string; repository: string; digest: Digest; size: number; result: BlobPutResult }
  | { type: 'upload-progress'; registry: string; repository: string; digest: Digest; sent: number; size: number }
  | { type: 'manifest'; registry: string; repository: string; digest: Digest; mediaType: string; tag?: string }
  | { type: 'referrers-fallback'; registry: string; repository: string; subject: Digest; tag: string; count: number }
  | { type: 'warning'; registry: string; message: string };

export interface RegistryOptions {
  /** Hosts (`host` or `host:port`) reached over plain http. Loopback hosts always are. */
  insecure?: string[];
  /** undici dispatcher (tests inject a MockAgent or their own Agent); default undici's global one. */
  dispatcher?: Dispatcher;
  /** Where credentials come from; default `defaultCredentials()` (design.md §5 order). */
  credentials?: CredentialResolver;
  retry?: RetryOptions;
  onEvent?: (event: RegistryEvent) => void;
  /** Blobs up to this size are sent in one PUT (default 32 MiB); larger ones in chunks. */
  monolithicLimit?: number;
  /** Chunk size for chunked uploads (default 8 MiB). */
  chunkSize?: number;
  /** Remembered blob locations: a push mounts a large blob from where it went before (blob-locations.ts). */
  blobLocations?: BlobLocations;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RegistryRequest {
  method: HttpMethod;
  /** A path (`/v2/…`) or an absolute URL (an upload `Location`). */
  url: string;
  /** The repository whose credentials apply. */
  repository: string;
  /** Token scopes this request needs. */
  scopes: string[];
  headers?: Record<string, string>;
  /** A Buffer is replayed on retries; a stream is sent once (the caller restarts the whole operation). */
  body?: Buffer | Readable;
  followRedirects?: boolean;
}

export interface CallContext {
  policy: RetryPolicy;
  emit: (event: RegistryEvent) => void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const MAX_AUTH_ROUNDS = 2;

export function isLoopbackHost(host: string): boolean {
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0] ?? '';
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The host the registry API lives on (Docker Hub's differs from its name). */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

/** `http://` for loopback and insecure hosts, `https://` otherwise. */
export function baseUrlFor(registry: string, insecure: readonly string[] = []): string {
  const host = apiHost(registry);
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  const plain = isLoopbackHost(host) || insecure.some((h) => h === host || h === hostname || h === registry);
  return `${plain ? 'http' : 'https'}://${host}`;
}

/** One registry: base URL, connection pool (the dispatcher) and authentication state with its token cache. */
export class RegistryClient {
  readonly host: string;
  readonly baseUrl: string;
  readonly auth: Authenticator;
  /** The connection pool; undefined: undici's global one, taken at each request. */
  readonly dispatcher: Dispatcher | undefined;

  constructor(readonly registry: string, options: Pick<RegistryOptions, 'insecure' | 'dispatcher' | 'credentials'> = {}) {
    this.host = apiHost(registry);
    this.baseUrl = baseUrlFor(registry, options.insecure);
    this.dispatcher = options.dispatcher;
    this.auth = new Authenticator(registry, options.credentials ?? DEFAULT_CREDENTIALS, this.dispatcher);
  }

  /**
   * Sends a request with authorization, retries (5xx, 429, connection errors; never other 4xx) and,
   * when asked, redirects (Authorization is never sent to another origin). Returns every other answer
   * for the caller to judge; throws AUTH when authorization fails and NETWORK when the registry stays
   * unreachable.
   */
  async send(req: RegistryRequest, ctx: CallContext): Promise<Dispatcher.ResponseData> {
    const scopes = [...req.scopes];
    const base = new URL(this.baseUrl);
    let url = new URL(req.url, this.baseUrl);
    let method = req.method;
    const replayable = !(req.body instanceof Readable);
    let attempt = 0;
    let authRounds = 0;
    let redirects = 0;
    const authCtx = { policy: ctx.policy, onRetry: this.#onRetry(ctx) };
    for (;;) {
      const what = `${method} ${describeUrl(url)}`;
      const sameOrigin = url.origin === base.origin;
      const headers: Record<string, string> = { ...req.headers };
      const sent = sameOrigin ? await this.auth.authorization(req.repository, scopes, authCtx) : undefined;
      if (sent) headers.authorization = sent;
      let res: Dispatcher.ResponseData;
      try {
        const { request, getGlobalDispatcher } = await undici();
        res = await request(url, { method, headers, body: req.body ?? null, dispatcher: this.dispatcher ?? getGlobalDispatcher() });
      } catch (err) {
        if (!isConnectionError(err)) {
          if (err instanceof RegistryError) throw err;
          throw new RegistryError('REGISTRY', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        if (!replayable || attempt >= ctx.policy.retries) throw networkError(what, err);
        attempt++;
        await this.#pause(ctx, what, attempt, ctx.policy.delay(attempt), (err as { code?: string }).code ?? 'connection error');
        continue;
      }
      const status = res.statusCode;
      if (status === 401 && sameOrigin) {
        const challenge = pickChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
        const text = await readLimited(res);
        const again = authRounds < MAX_AUTH_ROUNDS && (await this.auth.unauthorized(challenge, req.repository, scopes, sent));
        if (again && replayable) {
          authRounds++;
          continue;
        }
        throw await this.#authError(req.repository, what, text, sent, again && !replayable);
      }
      if (isRetryableStatus(status)) {
        if (replayable && attempt < ctx.policy.retries) {
          attempt++;
          const delay = ctx.policy.delay(attempt, parseRetryAfter(res.headers['retry-after']));
          await res.body.dump();
          await this.#pause(ctx, what, attempt, delay, `HTTP ${status}`);
          continue;
        }
        throw statusError(status, what, await readLimited(res));
      }
      const location = res.headers.location;
      if (req.followRedirects && REDIRECTS.has(status) && typeof location === 'string') {
        await res.body.dump();
        if (++redirects > MAX_REDIRECTS) throw new RegistryError('REGISTRY', `${what}: more than ${MAX_REDIRECTS} redirects`);
        url = new URL(location, url);
        if (status === 303) method = 'GET';
        continue;
      }
      return res;
    }
  }

  /** Sends, and throws the registry's error unless the status is one of `ok`. */
  async expect(req: RegistryRequest, ok: readonly number[], ctx: CallContext): Promise<Dispatcher.ResponseData> {
    const res = await this.send(req, ctx);
    if (ok.includes(res.statusCode)) return res;
    throw statusError(res.statusCode, `${req.method} ${describeUrl(new URL(req.url, this.baseUrl))}`, await readLimited(res));
  }

  #onRetry(ctx: CallContext) {
    return (what: string, attempt: number, delayMs: number, reason: string) =>
      ctx.emit({ type: 'retry', registry: this.registry, what: redact(what), attempt, delayMs, reason });
  }

  async #pause(ctx: CallContext, what: string, attempt: number, delayMs: number, reason: string): Promise<void> {
    this.#onRetry(ctx)(what, attempt, delayMs, reason);
    await ctx.policy.sleep(delayMs);
  }

  async #authError(repository: string, what: string, body: string, sent: string | undefined, temporary: boolean): Promise<RegistryError> {
    const cred = await this.auth.credential(repository);
    const detail = statusError(401, what, body).message;
    const who = cred && 'username' in cred && cred.username ? ` for user "${cred.username}"` : '';
    const why = !cred
      ? `${this.registry} requires authentication and no credentials were found for it (docker login, CNB_REGISTRY_AUTH)`
      : sent
        ? `${this.registry} refused the credentials${who}`
        : `${this.registry} did not accept any authentication scheme lading offers`;
    return new RegistryError('AUTH', `${why} — ${detail}`, { status: 401, temporary });
  }
}

const DEFAULT_CREDENTIALS = defaultCredentials();
const clients = new Map<string, RegistryClient>();
const ids = new WeakMap<object, number>();
let nextId = 1;

function idOf(o: object | undefined): number {
  if (!o) return 0;
  let id = ids.get(o);
  if (id === undefined) {
    id = nextId++;
    ids.set(o, id);
  }
  return id;
}

/**
 * The process's client for a registry: sources and sinks of the same registry (with the same
 * dispatcher, credentials and insecure setting) share one connection pool and one token cache.
 */
export function registryClient(registry: string, options: RegistryOptions = {}): RegistryClient {
  const credentials = options.credentials ?? DEFAULT_CREDENTIALS;
  const key = `${baseUrlFor(registry, options.insecure)}|${registry}|${idOf(options.dispatcher)}|${idOf(credentials)}`;
  let client = clients.get(key);
  if (!client) {
    client = new RegistryClient(registry, { ...options, credentials });
    clients.set(key, client);
  }
  return client;
}

/** Forgets every pooled client (their tokens); the dispatchers stay with their owners. */
export function clearRegistryClients(): void {
  clients.clear();
}

export function callContext(options: Pick<RegistryOptions, 'retry' | 'onEvent'>): CallContext {
  return { policy: retryPolicy(options.retry), emit: options.onEvent ?? (() => {}) };
}
