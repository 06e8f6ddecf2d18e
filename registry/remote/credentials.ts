import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LadingError, isRecord } from '../oci/index.js';
import { redact, registerSecret } from './errors.js';

/** What a registry login yields. */
export type Credential =
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token (docker `identitytoken`, helper username `<token>`). */
  | { kind: 'identity-token'; token: string; username?: string }
  /** A ready bearer token (docker `registrytoken`). */
  | { kind: 'registry-token'; token: string }
  /** A complete Authorization header value (CNB_REGISTRY_AUTH), sent as is. */
  | { kind: 'header'; value: string };

/** Finds the credential for a registry (as written in the reference, e.g. `docker.io`) and repository. */
export type CredentialResolver = (registry: string, repository: string) => Promise<Credential | undefined>;

export interface CredentialEnvironment {
  /** Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Default `os.homedir()`. */
  home?: string;
  /** Runs `docker-credential-<name> get` with `input` on stdin; default execa. */
  runHelper?: (program: string, input: string) => Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

/** Docker Hub's key in config files and for credential helpers. */
export const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

function canonicalHost(host: string): string {
  const h = host.toLowerCase();
  return HUB_ALIASES.has(h) ? 'docker.io' : h;
}

/** The server URL helpers and docker config use for a registry. */
export function serverUrlFor(registry: string): string {
  return canonicalHost(registry) === 'docker.io' ? DOCKER_HUB_SERVER : registry;
}

/**
 * How well a config key matches `registry/repository`: -1 for no match, else its specificity. Docker keys
 * match by host only (scheme and path stripped); containers keys may name a namespace (`host/org/repo`).
 */
function keyMatch(key: string, registry: string, repository: string, namespaces: boolean): number {
  const stripped = key.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  const slash = stripped.indexOf('/');
  const host = canonicalHost(slash < 0 ? stripped : stripped.slice(0, slash));
  if (host !== canonicalHost(registry)) return -1;
  const path = slash < 0 ? '' : stripped.slice(slash + 1);
  if (!namespaces || path === '' || /^v[12]$/.test(path)) return 0;
  return repository === path || repository.startsWith(`${path}/`) ? path.length : -1;
}

function bestKey(keys: string[], registry: string, repository: string, namespaces: boolean): string | undefined {
  let best: string | undefined;
  let score = -1;
  for (const key of keys) {
    const s = keyMatch(key, registry, repository, namespaces);
    if (s > score || (s === score && s >= 0 && key === registry)) {
      best = key;
      score = s;
    }
  }
  return best;
}

/** Parses an Authorization header value; `Basic` values are decoded so they also work for token servers. */
export function credentialFromHeader(value: string): Credential {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value.trim());
  if (m) {
    const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) return basic(decoded.slice(0, i), decoded.slice(i + 1));
  }
  registerSecret(value.replace(/^\S+\s+/, ''));
  return { kind: 'header', value: value.trim() };
}

function basic(username: string, password: string): Credential {
  registerSecret(password);
  return { kind: 'basic', username, password };
}

/** A docker/containers `auths` entry; undefined when it holds nothing usable (a credsStore placeholder). */
export function credentialFromEntry(entry: unknown): Credential | undefined {
  if (!isRecord(entry)) return undefined;
  const str = (k: string): string | undefined => (typeof entry[k] === 'string' && entry[k] !== '' ? (entry[k] as string) : undefined);
  let username = str('username');
  let password = str('password');
  const auth = str('auth');
  if (auth) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      username = decoded.slice(0, i);
      password = decoded.slice(i + 1);
    }
  }
  const identity = str('identitytoken');
  if (identity) {
    registerSecret(identity);
    return username ? { kind: 'identity-token', token: identity, username } : { kind: 'identity-token', token: identity };
  }
  const registryToken = str('registrytoken');
  if (registryToken) {
    registerSecret(registryToken);
    return { kind: 'registry-token', token: registryToken };
  }
  if (username !== undefined && password !== undefined) return basic(username, password);
  return undefined;
}

/** `CNB_REGISTRY_AUTH`-style explicit credentials: registry → Authorization header value. */
export function explicitCredentials(map: Record<string, string>): CredentialResolver {
  return async (registry, repository) => {
    const key = bestKey(Object.keys(map), registry, repository, false);
    return key === undefined ? undefined : credentialFromHeader(map[key] as string);
  };
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const doc = JSON.parse(text) as unknown;
    return isRecord(doc) ? doc : undefined;
  } catch (err) {
    throw new LadingError('AUTH', `${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

async function defaultRunHelper(
  program: string, input: string, vars: Record<string, string | undefined>,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { execa } = await import('execa'); // loaded only when a credential helper is configured
  const r = await execa(program, ['get'], { input, reject: false, timeout: 30_000, env: vars, extendEnv: false });
  if (r.failed && r.exitCode === undefined) {
    const why = (r as { code?: string }).code === 'ENOENT' ? 'not found on PATH' : redact(r.shortMessage ?? 'unknown error');
    throw new LadingError('AUTH', `credential helper ${program} could not be run: ${why}`, { cause: r });
  }
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Runs `docker-credential-<name> get` (the docker credential helper protocol). Not found → undefined. */
export async function fromCredentialHelper(name: string, registry: string, env: CredentialEnvironment = {}): Promise<Credential | undefined> {
  const program = `docker-credential-${name}`;
  const run = env.runHelper ?? ((p: string, i: string) => defaultRunHelper(p, i, env.env ?? process.env));
  const server = serverUrlFor(registry);
  const r = await run(program, server);
  if (r.exitCode !== 0) {
    const said = `${r.stdout}\n${r.stderr}`.trim();
    if (/credentials not found|not found in native keychain/i.test(said)) return undefined;
    throw new LadingError('AUTH', `credential helper ${program} failed for ${server} (exit ${r.exitCode}): ${redact(said.split('\n')[0] ?? '')}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch (err) {
    throw new LadingError('AUTH', `credential helper ${program} printed invalid JSON for ${server}`, { cause: err });
  }
  if (!isRecord(doc) || typeof doc.Secret !== 'string' || doc.Secret === '') return undefined;
  const username = typeof doc.Username === 'string' ? doc.Username : '';
  if (username === '<token>') {
    registerSecret(doc.Secret);
    return { kind: 'identity-token', token: doc.Secret };
  }
  return basic(username, doc.Secret);
}

/** Looks a registry up in one docker `config.json` or containers `auth.json` document. */
async function fromConfigDocument(
  doc: Record<string, unknown>, registry: string, repository: string, namespaces: boolean, env: CredentialEnvironment,
): Promise<Credential | undefined> {
  const helpers = isRecord(doc.credHelpers) ? doc.credHelpers : {};
  const helperKey = bestKey(Object.keys(helpers), registry, repository, namespaces);
  const helper = helperKey !== undefined ? helpers[helperKey] : doc.credsStore;
  if (typeof helper === 'string' && helper !== '') {
    const found = await fromCredentialHelper(helper, registry, env);
    if (found) return found;
  }
  const auths = isRecord(doc.auths) ? doc.auths : {};
  const key = bestKey(Object.keys(auths), registry, repository, namespaces);
  return key === undefined ? undefined : credentialFromEntry(auths[key]);
}

/** The credential files consulted, in order, with whether their keys may name namespaces. */
export function credentialFiles(env: CredentialEnvironment = {}): { path: string; namespaces: boolean }[] {
  const e = env.env ?? process.env;
  const home = env.home ?? homedir();
  const files = [{ path: join(e.DOCKER_CONFIG || join(home, '.docker'), 'config.json'), namespaces: false }];
  if (e.REGISTRY_AUTH_FILE) files.push({ path: e.REGISTRY_AUTH_FILE, namespaces: true });
  if (e.XDG_RUNTIME_DIR) files.push({ path: join(e.XDG_RUNTIME_DIR, 'containers', 'auth.json'), namespaces: true });
  files.push({ path: join(e.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'auth.json'), namespaces: true });
  return files;
}

/**
 * design.md §5's order: `CNB_REGISTRY_AUTH`, docker config (auths, credHelpers, credsStore), the containers
 * auth files, then anonymous (undefined).
 */
export function defaultCredentials(env: CredentialEnvironment = {}): CredentialResolver {
  // The same environment gives the same resolver, so registry clients (keyed by resolver) are shared.
  const memoizable = env.home === undefined && env.runHelper === undefined;
  const key = env.env ?? process.env;
  const known = memoizable ? memo.get(key) : undefined;
  if (known) return known;
  const resolver = makeDefaultCredentials(env);
  if (memoizable) memo.set(key, resolver);
  return resolver;
}

const memo = new WeakMap<object, CredentialResolver>();

function makeDefaultCredentials(env: CredentialEnvironment): CredentialResolver {
  return async (registry, repository) => {
    const e = env.env ?? process.env;
    if (e.CNB_REGISTRY_AUTH) {
      let map: unknown;
      try {
        map = JSON.parse(e.CNB_REGISTRY_AUTH);
      } catch (err) {
        throw new LadingError('USAGE', `CNB_REGISTRY_AUTH is not a JSON object of registry → Authorization value`, { cause: err });
      }
      if (!isRecord(map) || Object.values(map).some((v) => typeof v !== 'string')) {
        throw new LadingError('USAGE', `CNB_REGISTRY_AUTH must map registry names to Authorization header strings`);
      }
      const found = await explicitCredentials(map as Record<string, string>)(registry, repository);
      if (found) return found;
    }
    for (const file of credentialFiles(env)) {
      const doc = await readJson(file.path);
      if (!doc) continue;
      const found = await fromConfigDocument(doc, registry, repository, file.namespaces, env);
      if (found) return found;
    }
    return undefined;
  };
}

/** Tries resolvers in order; the first credential wins. */
export function chainCredentials(...resolvers: CredentialResolver[]): CredentialResolver {
  return async (registry, repository) => {
    for (const r of resolvers) {
      const c = await r(registry, repository);
      if (c) return c;
    }
    return undefined;
  };
}

/** Never any credential. */
export const anonymous: CredentialResolver = async () => undefined;
