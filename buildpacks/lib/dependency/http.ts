import { createWriteStream } from 'node:fs';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { SecureContext } from 'node:tls';
import type { Dispatcher } from 'undici';
import { BuildpackError } from '../errors.js';
import { deferredExtraCaCerts } from '../extra-ca.js';

/** TLS trust for downloads: a CA bundle (npm's cafile/ca) and whether to verify at all (strict-ssl). */
export interface TrustOptions {
  ca?: string[];
  rejectUnauthorized?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * undici, loaded on first use: evaluating it costs ~40 ms of every buildpack process, and a rebuild whose
 * answers are all memoized makes no request at all.
 */
async function undici(): Promise<typeof import('undici')> {
  const m = await import('undici');
  // undici is CommonJS: Node's namespace has its exports as named exports and as `default`; a split esbuild
  // bundle gives only `default`.
  return (m as { default?: typeof import('undici') }).default ?? m;
}

/**
 * A dispatcher honouring the user's trust settings: given CAs replace Node's roots (as npm's cafile does)
 * with NODE_EXTRA_CA_CERTS added back; HTTP(S)_PROXY/NO_PROXY are honoured. With CAs of its own, one TLS
 * context serves every connection: building it from ~150 PEM certificates costs ~50 ms here, and undici would
 * otherwise build one per connection.
 */
export async function trustingDispatcher(opts: TrustOptions = {}): Promise<Dispatcher> {
  const { Agent, EnvHttpProxyAgent } = await undici();
  const env = opts.env ?? process.env;
  const pem = (file: string | undefined): string[] => {
    try {
      return file ? [readFileSync(file, 'utf8')] : [];
    } catch {
      return []; // an unreadable NODE_EXTRA_CA_CERTS is ignored, as Node itself does (with a warning of its own)
    }
  };
  const tlsModule = await import('node:tls');
  const deferred = deferredExtraCaCerts();
  // Given CAs plus the extra file; else, when this process did not load the extra file as it started, Node's
  // roots plus that file, which is what Node would have trusted.
  const ca = opts.ca?.length ? [...opts.ca, ...pem(env['NODE_EXTRA_CA_CERTS'])] : deferred ? [...tlsModule.rootCertificates, ...pem(deferred)] : undefined;
  const tls: { secureContext?: SecureContext; rejectUnauthorized?: boolean } = ca ? { secureContext: tlsModule.createSecureContext({ ca }) } : {};
  if (opts.rejectUnauthorized === false) tls.rejectUnauthorized = false;
  const proxied = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => env[k]);
  if (proxied) return new EnvHttpProxyAgent({ connect: tls, requestTls: tls, proxyTls: tls });
  return new Agent({ connect: tls });
}

export interface GetOptions {
  dispatcher: Dispatcher;
  headers?: Record<string, string>;
  /** What is being fetched, for error messages. */
  what: string;
}

const REDIRECTS = 5;

async function get(url: string, opts: GetOptions): Promise<Dispatcher.ResponseData> {
  const { request } = await undici();
  let current = url;
  for (let i = 0; i <= REDIRECTS; i++) {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(current, { method: 'GET', headers: opts.headers ?? {}, dispatcher: opts.dispatcher, headersTimeout: 60_000, bodyTimeout: 300_000 });
    } catch (err) {
      throw new BuildpackError('DEPENDENCY_FETCH', `${opts.what}: GET ${current} failed: ${(err as Error).message}`, { cause: err });
    }
    const location = res.headers['location'];
    if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
      await res.body.dump();
      const next = new URL(location, current);
      // credentials go only to the host they were configured for
      if (next.host !== new URL(current).host && opts.headers?.['authorization']) {
        const { authorization: _drop, ...rest } = opts.headers;
        opts = { ...opts, headers: rest };
      }
      current = next.toString();
      continue;
    }
    return res;
  }
  throw new BuildpackError('DEPENDENCY_FETCH', `${opts.what}: too many redirects from ${url}`);
}

async function failure(res: Dispatcher.ResponseData, url: string, what: string): Promise<never> {
  const text = (await res.body.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
  throw new BuildpackError('DEPENDENCY_FETCH', `${what}: GET ${url} answered ${res.statusCode}${text ? `: ${text}` : ''}`);
}

/** GETs JSON; `undefined` for 404. */
export async function getJson(url: string, opts: GetOptions): Promise<unknown | undefined> {
  const res = await get(url, opts);
  if (res.statusCode === 404) {
    await res.body.dump();
    return undefined;
  }
  if (res.statusCode !== 200) return failure(res, url, opts.what);
  try {
    return await res.body.json();
  } catch (err) {
    throw new BuildpackError('DEPENDENCY_FETCH', `${opts.what}: GET ${url} returned invalid JSON`, { cause: err });
  }
}

/** Streams a GET into `file`; a partial file is removed on failure. */
export async function downloadFile(url: string, file: string, opts: GetOptions): Promise<void> {
  const res = await get(url, opts);
  if (res.statusCode !== 200) return failure(res, url, opts.what);
  try {
    await pipeline(res.body, createWriteStream(file));
  } catch (err) {
    await rm(file, { force: true });
    throw new BuildpackError('DEPENDENCY_FETCH', `${opts.what}: downloading ${url} failed: ${(err as Error).message}`, { cause: err });
  }
}
