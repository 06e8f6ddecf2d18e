import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A Docker token server for registry 2.8 tests (distribution's token auth): ES256 JWTs with raw r‖s
 * signatures, `aud` a plain string, `iss` the issuer, and the signing certificate in `x5c` (the registry
 * trusts it through `rootcertbundle`). It checks Basic credentials and grants exactly the scopes asked
 * for to a known user (anonymous callers get what `anonymous` allows).
 */
export interface TokenServerOptions {
  service: string;
  issuer: string;
  /** username → password */
  users: Record<string, string>;
  /** OAuth2 refresh tokens (identity tokens) accepted by the POST flow → username. */
  refreshTokens?: Record<string, string>;
  /** Actions anonymous callers may get (default none). */
  anonymous?: string[];
  /** Limits what a user gets for a repository (default: all it asks for). */
  allow?: (user: string, repository: string, actions: string[]) => string[];
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
}

export interface TokenRequestRecord {
  method: string;
  user: string | undefined;
  scopes: string[];
  granted: boolean;
}

export interface TokenServer {
  /** The realm URL. */
  url: string;
  /** PEM file with the signing certificate, for the registry's `rootcertbundle`. */
  certPath: string;
  requests: TokenRequestRecord[];
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

function signJwt(key: KeyObject, certDer: string, claims: object): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer] }));
  const payload = b64url(JSON.stringify(claims));
  const sig = sign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${b64url(sig)}`;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req) {
    total += (c as Buffer).byteLength;
    if (total > 1 << 16) break;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Generates a self-signed P-256 certificate with openssl in `dir` and starts the server on 127.0.0.1. */
export async function startTokenServer(dir: string, options: TokenServerOptions): Promise<TokenServer> {
  const keyPath = join(dir, 'token-key.pem');
  const certPath = join(dir, 'token-cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=lading-test-token-issuer',
  ], { stdio: 'ignore' });
  const key = createPrivateKey(readFileSync(keyPath));
  const certDer = new X509Certificate(readFileSync(certPath)).raw.toString('base64');
  const requests: TokenRequestRecord[] = [];
  const expiresIn = options.expiresIn ?? 300;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let user: string | undefined;
      let denied = false;
      let scopes: string[];
      let service: string | null;
      if (req.method === 'POST') {
        const form = new URLSearchParams(await body(req));
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        service = form.get('service');
        if (form.get('grant_type') === 'refresh_token') {
          user = options.refreshTokens?.[form.get('refresh_token') ?? ''];
          denied = user === undefined;
        } else if (form.get('grant_type') === 'password') {
          const u = form.get('username') ?? '';
          denied = options.users[u] === undefined || options.users[u] !== form.get('password');
          user = denied ? undefined : u;
        } else {
          denied = true;
        }
      } else {
        scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
        service = url.searchParams.get('service');
        const auth = req.headers.authorization;
        if (auth?.startsWith('Basic ')) {
          const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
          const i = decoded.indexOf(':');
          const [u, p] = [decoded.slice(0, i), decoded.slice(i + 1)];
          if (options.users[u] !== undefined && options.users[u] === p) user = u;
          else if (u === '<token>' && options.refreshTokens?.[p]) user = options.refreshTokens[p];
          else denied = true;
        }
      }
      requests.push({ method: req.method ?? 'GET', user, scopes, granted: !denied });
      if (denied || service !== options.service) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      const access = scopes.flatMap((s) => {
        const p = parseScope(s);
        if (!p || p.type !== 'repository') return [];
        const actions = user ? (options.allow ? options.allow(user, p.name, p.actions) : p.actions) : p.actions.filter((a) => (options.anonymous ?? []).includes(a));
        return actions.length ? [{ type: p.type, name: p.name, actions }] : [];
      });
      const now = Math.floor(Date.now() / 1000);
      const token = signJwt(key, certDer, {
        iss: options.issuer, sub: user ?? '', aud: options.service, exp: now + expiresIn, nbf: now - 5, iat: now,
        jti: randomBytes(8).toString('hex'), access,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() }));
    })().catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/token`,
    certPath,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
