import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Credential, CredentialResolver } from './credentials.js';
import { RegistryError, describeUrl, isConnectionError, networkError, registerSecret, statusError } from './errors.js';
import { isRetryableStatus, parseRetryAfter, type RetryPolicy } from './retry.js';
import { scopeKey, scopesCover, unionScopes } from './scope.js';
import type { Challenge } from './www-authenticate.js';
import { undici } from './undici.js';

interface CachedToken {
  scopes: string[];
  token: string;
  expiresAt: number;
}

export interface AuthContext {
  policy: RetryPolicy;
  /** Called before each retry of a token request. */
  onRetry?: (what: string, attempt: number, delayMs: number, reason: string) => void;
}

/** Client id sent with OAuth2 token requests. */
const CLIENT_ID = 'lading';
const MAX_TOKEN_RESPONSE = 1 << 20;

/**
 * Authorization for one registry: remembers the scheme the registry asked for (Basic or Bearer), finds
 * credentials per repository, and caches bearer tokens per credential and scope until they expire.
 */
export class Authenticator {
  #challenge: { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service: string | undefined } | undefined;
  readonly #credentials = new Map<string, Promise<Credential | undefined>>();
  readonly #tokens = new Map<string, CachedToken[]>();
  readonly #inflight = new Map<string, Promise<CachedToken>>();

  constructor(
    readonly registry: string,
    private readonly resolver: CredentialResolver,
    /** undefined: undici's global one. */
    private readonly dispatcher: Dispatcher | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  credential(repository: string): Promise<Credential | undefined> {
    let c = this.#credentials.get(repository);
    if (!c) {
      c = this.resolver(this.registry, repository);
      this.#credentials.set(repository, c);
      c.catch(() => this.#credentials.delete(repository));
    }
    return c;
  }

  /** The Authorization value for a request, if one is known to be needed (or was given explicitly). */
  async authorization(repository: string, scopes: readonly string[], ctx: AuthContext): Promise<string | undefined> {
    const cred = await this.credential(repository);
    if (cred?.kind === 'header') return cred.value;
    if (cred?.kind === 'registry-token') return `Bearer ${cred.token}`;
    const ch = this.#challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return cred?.kind === 'basic' ? basicHeader(cred.username, cred.password) : undefined;
    return `Bearer ${(await this.token(cred, scopes, ctx)).token}`;
  }

  /**
   * Learns from a 401. Returns true when a retry with new authorization may succeed; `sent` is the
   * Authorization value the refused request carried.
   */
  async unauthorized(challenge: Challenge | undefined, repository: string, scopes: string[], sent: string | undefined): Promise<boolean> {
    const cred = await this.credential(repository);
    if (!challenge || cred?.kind === 'header' || cred?.kind === 'registry-token') return false;
    if (challenge.scheme === 'basic') {
      this.#challenge = { scheme: 'basic' };
      return cred?.kind === 'basic' && sent === undefined;
    }
    const realm = challenge.params.realm;
    if (challenge.scheme !== 'bearer' || !realm) return false;
    this.#challenge = { scheme: 'bearer', realm, service: challenge.params.service };
    const asked = (challenge.params.scope ?? '').split(/\s+/).filter(Boolean);
    // Some registries only read the first scope parameter, so the one the registry asked for goes first.
    const wanted = unionScopes(asked, scopes);
    scopes.splice(0, scopes.length, ...wanted);
    if (sent?.startsWith('Bearer ')) {
      // Expired, revoked or too narrow: forget it; the next token is requested for the widened scopes.
      const refused = sent.slice('Bearer '.length);
      for (const list of this.#tokens.values()) {
        const i = list.findIndex((t) => t.token === refused);
        if (i >= 0) list.splice(i, 1);
      }
    }
    return true;
  }

  /** A token covering `scopes` for this credential, from the cache or the token server. */
  async token(cred: Credential | undefined, scopes: readonly string[], ctx: AuthContext): Promise<CachedToken> {
    const ch = this.#challenge;
    if (!ch || ch.scheme !== 'bearer') throw new RegistryError('INTERNAL', `${this.registry}: no bearer challenge known`);
    const ck = credentialKey(cred);
    const list = this.#tokens.get(ck) ?? [];
    const now = this.now();
    const live = list.filter((t) => t.expiresAt > now);
    this.#tokens.set(ck, live);
    const hit = live.find((t) => scopesCover(t.scopes, scopes));
    if (hit) return hit;
    const key = `${ck} ${scopeKey(scopes)}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#fetchToken(cred, ch.realm, ch.service, [...scopes], ctx).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    const t = await p;
    const cached = this.#tokens.get(ck) ?? [];
    if (!cached.includes(t)) cached.push(t);
    this.#tokens.set(ck, cached);
    return t;
  }

  async #fetchToken(cred: Credential | undefined, realm: string, service: string | undefined, scopes: string[], ctx: AuthContext): Promise<CachedToken> {
    const who = cred && 'username' in cred && cred.username ? ` (user "${cred.username}")` : '';
    const what = `token request to ${describeUrl(realm)} for ${this.registry}${who}`;
    let res: Dispatcher.ResponseData | undefined;
    if (cred?.kind === 'identity-token') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.token, client_id: CLIENT_ID });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await this.#send(realm, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(form.toString()), what, ctx);
      if (res.statusCode === 404 || res.statusCode === 405) {
        await res.body.dump();
        res = undefined; // no OAuth2 endpoint: fall back to the GET flow
      }
    }
    if (!res) {
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (cred?.kind === 'basic') headers.authorization = basicHeader(cred.username, cred.password);
      if (cred?.kind === 'identity-token') headers.authorization = basicHeader(cred.username ?? '<token>', cred.token);
      res = await this.#send(url.toString(), 'GET', headers, undefined, what, ctx);
    }
    const text = await readLimited(res, MAX_TOKEN_RESPONSE);
    if (res.statusCode === 401 || res.statusCode === 403) {
      const why = cred ? 'refused the credentials' : 'refused anonymous access';
      throw new RegistryError('AUTH', `${what}: the token server ${why} (HTTP ${res.statusCode})`, { status: res.statusCode });
    }
    if (res.statusCode !== 200) throw statusError(res.statusCode, what, text);
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch (err) {
      throw new RegistryError('AUTH', `${what}: the token server answered with invalid JSON`, { cause: err });
    }
    const token = typeof doc.access_token === 'string' && doc.access_token ? doc.access_token : doc.token;
    if (typeof token !== 'string' || token === '') throw new RegistryError('AUTH', `${what}: the token server answered without a token`);
    registerSecret(token);
    const expiresIn = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    const issued = typeof doc.issued_at === 'string' ? Date.parse(doc.issued_at) : Number.NaN;
    const start = Number.isNaN(issued) ? this.now() : Math.min(issued, this.now());
    // Renew a little early so a token never expires in flight.
    return { scopes, token, expiresAt: start + expiresIn * 1000 - Math.min(10_000, expiresIn * 100) };
  }

  async #send(url: string, method: 'GET' | 'POST', headers: Record<string, string>, body: Buffer | undefined, what: string, ctx: AuthContext): Promise<Dispatcher.ResponseData> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { request, getGlobalDispatcher } = await undici();
        const res = await request(url, { method, headers, body, dispatcher: this.dispatcher ?? getGlobalDispatcher() });
        if (!isRetryableStatus(res.statusCode) || attempt >= ctx.policy.retries) return res;
        const delay = ctx.policy.delay(attempt + 1, parseRetryAfter(res.headers['retry-after']));
        await res.body.dump();
        ctx.onRetry?.(what, attempt + 1, delay, `HTTP ${res.statusCode}`);
        await ctx.policy.sleep(delay);
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        if (attempt >= ctx.policy.retries) throw networkError(what, err);
        const delay = ctx.policy.delay(attempt + 1);
        ctx.onRetry?.(what, attempt + 1, delay, (err as { code?: string }).code ?? 'connection error');
        await ctx.policy.sleep(delay);
      }
    }
  }
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function credentialKey(cred: Credential | undefined): string {
  return cred ? createHash('sha256').update(JSON.stringify(cred)).digest('hex').slice(0, 16) : 'anonymous';
}

/** Reads a response body, keeping at most `limit` bytes (`truncated` says whether there was more). */
export async function readBody(res: Dispatcher.ResponseData, limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    const buf = chunk as Buffer;
    total += buf.byteLength;
    if (total > limit) {
      res.body.destroy();
      return { bytes: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(buf);
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

/** A response body as text, at most `limit` bytes of it (for error messages and small JSON). */
export async function readLimited(res: Dispatcher.ResponseData, limit = 64 << 10): Promise<string> {
  return (await readBody(res, limit)).bytes.toString('utf8');
}
