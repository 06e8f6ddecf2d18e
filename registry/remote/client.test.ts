import { afterEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import { Authenticator } from './auth.js';
import { RegistryClient, apiHost, baseUrlFor, callContext, clearRegistryClients, isLoopbackHost, registryClient } from './client.js';
import { defaultCredentials, type Credential } from './credentials.js';
import { scopesCover, unionScopes } from './scope.js';
import { parseWwwAuthenticate } from './www-authenticate.js';

afterEach(() => clearRegistryClients());

describe('hosts and schemes', () => {
  it('uses http for loopback and --insecure-registry hosts, https otherwise; Docker Hub API host', () => {
    expect(baseUrlFor('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(baseUrlFor('localhost:5000')).toBe('http://localhost:5000');
    expect(baseUrlFor('[::1]:5000')).toBe('http://[::1]:5000');
    expect(baseUrlFor('reg.example:5000')).toBe('https://reg.example:5000');
    expect(baseUrlFor('reg.example:5000', ['reg.example'])).toBe('http://reg.example:5000');
    expect(baseUrlFor('reg.example:5000', ['reg.example:5000'])).toBe('http://reg.example:5000');
    expect(baseUrlFor('docker.io')).toBe('https://registry-1.docker.io');
    expect(apiHost('ghcr.io')).toBe('ghcr.io');
    expect(isLoopbackHost('127.1.2.3:80')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
  });

  it('shares one client per registry, dispatcher and credentials', () => {
    const env = { HOME: '/nowhere' };
    const a = registryClient('127.0.0.1:5000', { credentials: defaultCredentials({ env }) });
    const b = registryClient('127.0.0.1:5000', { credentials: defaultCredentials({ env }), insecure: [] });
    expect(a).toBe(b);
    expect(registryClient('127.0.0.1:5000')).toBe(registryClient('127.0.0.1:5000', { credentials: defaultCredentials() }));
    expect(registryClient('127.0.0.1:5000', { credentials: async () => undefined })).not.toBe(a);
    expect(registryClient('127.0.0.1:5001', { credentials: defaultCredentials({ env }) })).not.toBe(a);
  });
});

describe('scopes', () => {
  it('unions actions per resource and checks coverage, host ports included', () => {
    expect(unionScopes(['repository:a:pull'], ['repository:a:push', 'repository:h:5000/b:pull'])).toEqual(['repository:a:pull,push', 'repository:h:5000/b:pull']);
    expect(unionScopes(['repository:a:pull repository:b:pull'])).toEqual(['repository:a:pull', 'repository:b:pull']);
    expect(scopesCover(['repository:a:pull,push'], ['repository:a:pull'])).toBe(true);
    expect(scopesCover(['repository:a:pull'], ['repository:a:pull,push'])).toBe(false);
    expect(scopesCover(['repository:a:*'], ['repository:a:delete'])).toBe(true);
    expect(scopesCover(['repository:a:pull'], ['repository:b:pull'])).toBe(false);
  });
});

describe('Authenticator (token cache, expiry, OAuth2 fallback) with a MockAgent', () => {
  function setup(expiresIn: number) {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const calls: { method: string; path: string; auth: string | undefined; body: string }[] = [];
    let n = 0;
    agent.get('http://auth.test').intercept({ path: /^\/token/, method: /GET|POST/ }).reply((opts) => {
      const headers = (opts.headers ?? {}) as Record<string, string>;
      calls.push({ method: opts.method, path: opts.path, auth: headers.authorization, body: String(opts.body ?? '') });
      if (opts.method === 'POST') return { statusCode: 404, data: 'no oauth here' };
      return { statusCode: 200, data: JSON.stringify({ token: `tok-${++n}`, expires_in: expiresIn }) };
    }).persist();
    let clock = 1_000_000;
    const cred: Credential = { kind: 'basic', username: 'u', password: 'p' };
    const auth = new Authenticator('reg.test', async () => cred, agent, () => clock);
    return { auth, calls, tick: (ms: number) => (clock += ms), agent };
  }
  const ctx = callContext({ retry: { retries: 0 } });
  const challenge = (extra = '') => parseWwwAuthenticate(`Bearer realm="http://auth.test/token",service="reg"${extra}`)[0];

  it('fetches once per scope set, reuses covering tokens, and refetches after expires_in', async () => {
    const { auth, calls, tick } = setup(60);
    expect(await auth.authorization('a', ['repository:a:pull'], ctx)).toBeUndefined(); // no challenge seen yet
    expect(await auth.unauthorized(challenge(), 'a', ['repository:a:pull,push'], undefined)).toBe(true);
    expect(await auth.authorization('a', ['repository:a:pull,push'], ctx)).toBe('Bearer tok-1');
    expect(await auth.authorization('a', ['repository:a:pull'], ctx)).toBe('Bearer tok-1');
    expect(calls).toHaveLength(1);
    expect(new URL(calls[0]!.path, 'http://x').searchParams.getAll('scope')).toEqual(['repository:a:pull,push']);
    expect(calls[0]!.auth).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(await auth.authorization('b', ['repository:b:pull'], ctx)).toBe('Bearer tok-2');
    tick(55_000);
    expect(await auth.authorization('a', ['repository:a:pull'], ctx)).toBe('Bearer tok-3');
    expect(calls).toHaveLength(3);
  });

  it('concurrent requests for one scope share one token request', async () => {
    const { auth, calls } = setup(300);
    await auth.unauthorized(challenge(), 'a', [], undefined);
    const all = await Promise.all([1, 2, 3, 4].map(() => auth.authorization('a', ['repository:a:pull'], ctx)));
    expect(new Set(all)).toEqual(new Set(['Bearer tok-1']));
    expect(calls).toHaveLength(1);
  });

  it('insufficient_scope widens the scopes (the registry\'s first) and drops the refused token', async () => {
    const { auth, calls } = setup(300);
    await auth.unauthorized(challenge(), 'a', [], undefined);
    const sent = await auth.authorization('a', ['repository:a:pull,push'], ctx);
    const scopes = ['repository:a:pull,push'];
    expect(await auth.unauthorized(challenge(',scope="repository:b:pull",error="insufficient_scope"'), 'a', scopes, sent)).toBe(true);
    expect(scopes).toEqual(['repository:b:pull', 'repository:a:pull,push']);
    expect(await auth.authorization('a', scopes, ctx)).toBe('Bearer tok-2');
    expect(new URL(calls[1]!.path, 'http://x').searchParams.getAll('scope')).toEqual(['repository:b:pull', 'repository:a:pull,push']);
  });

  it('identity tokens use the OAuth2 POST and fall back to GET on 404', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const seen: string[] = [];
    agent.get('http://auth.test').intercept({ path: /^\/token/, method: /GET|POST/ }).reply((opts) => {
      seen.push(`${opts.method} ${opts.method === 'POST' ? String(opts.body) : opts.path}`);
      return opts.method === 'POST' ? { statusCode: 404, data: '' } : { statusCode: 200, data: JSON.stringify({ access_token: 'at' }) };
    }).persist();
    const auth = new Authenticator('reg.test', async () => ({ kind: 'identity-token', token: 'refresh-me' }), agent);
    await auth.unauthorized(challenge(), 'a', [], undefined);
    expect(await auth.authorization('a', ['repository:a:pull'], ctx)).toBe('Bearer at');
    expect(seen[0]).toContain('grant_type=refresh_token');
    expect(seen[0]).toContain('refresh_token=refresh-me');
    expect(seen[0]).toContain('scope=repository%3Aa%3Apull');
    expect(seen[1]).toMatch(/^GET \/token\?service=reg&scope=repository%3Aa%3Apull$/);
  });

  it('a Basic registry gets Basic credentials once; a refused password is not retried', async () => {
    const { auth } = setup(60);
    const basic = parseWwwAuthenticate('Basic realm="r"')[0];
    expect(await auth.unauthorized(basic, 'a', [], undefined)).toBe(true);
    const sent = await auth.authorization('a', [], ctx);
    expect(sent).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(await auth.unauthorized(basic, 'a', [], sent)).toBe(false);
  });

  it('RegistryClient sends explicit header credentials as given', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    let got: string | undefined;
    agent.get('https://reg.test').intercept({ path: '/v2/a/manifests/x', method: 'GET' }).reply((opts) => {
      got = ((opts.headers ?? {}) as Record<string, string>).authorization;
      return { statusCode: 200, data: '{}' };
    });
    const client = new RegistryClient('reg.test', { dispatcher: agent, credentials: async () => ({ kind: 'header', value: 'Bearer given' }) });
    const res = await client.send({ method: 'GET', url: '/v2/a/manifests/x', repository: 'a', scopes: [] }, ctx);
    await res.body.dump();
    expect(got).toBe('Bearer given');
  });
});
