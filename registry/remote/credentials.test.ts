import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LadingError } from '../oci/index.js';
import {
  DOCKER_HUB_SERVER, chainCredentials, credentialFromEntry, credentialFromHeader, defaultCredentials, explicitCredentials,
  fromCredentialHelper, serverUrlFor, type Credential,
} from './credentials.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lading-creds-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeJson(path: string, doc: unknown): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify(doc));
}

/** A docker-credential-<name> script that answers from a fixed table and logs its stdin. */
async function fakeHelper(name: string, table: Record<string, { Username: string; Secret: string }>): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const script = `#!/usr/bin/env node
const fs = require('node:fs');
const input = fs.readFileSync(0, 'utf8').trim();
fs.appendFileSync(${JSON.stringify(join(dir, `${name}.log`))}, process.argv[2] + ' ' + input + '\\n');
const table = ${JSON.stringify(table)};
const hit = table[input];
if (!hit) { process.stdout.write('credentials not found in native keychain'); process.exit(1); }
process.stdout.write(JSON.stringify({ ServerURL: input, ...hit }));
`;
  const path = join(bin, `docker-credential-${name}`);
  await writeFile(path, script);
  await chmod(path, 0o755);
  return bin;
}

function envWith(extra: Record<string, string>): Record<string, string | undefined> {
  return { PATH: process.env.PATH, ...extra };
}

describe('credential entries and headers', () => {
  it('decodes auth, username/password, identitytoken and registrytoken', () => {
    expect(credentialFromEntry({ auth: b64('alice:pa:ss') })).toEqual({ kind: 'basic', username: 'alice', password: 'pa:ss' });
    expect(credentialFromEntry({ username: 'bob', password: 'pw' })).toEqual({ kind: 'basic', username: 'bob', password: 'pw' });
    expect(credentialFromEntry({ auth: b64('carol:x'), identitytoken: 'refresh' })).toEqual({ kind: 'identity-token', token: 'refresh', username: 'carol' });
    expect(credentialFromEntry({ registrytoken: 'rt' })).toEqual({ kind: 'registry-token', token: 'rt' });
    expect(credentialFromEntry({})).toBeUndefined();
    expect(credentialFromEntry('nope')).toBeUndefined();
    expect(credentialFromHeader(`Basic ${b64('u:p')}`)).toEqual({ kind: 'basic', username: 'u', password: 'p' });
    expect(credentialFromHeader('Bearer tok')).toEqual({ kind: 'header', value: 'Bearer tok' });
  });

  it('maps Docker Hub names to the index server key', () => {
    expect(serverUrlFor('docker.io')).toBe(DOCKER_HUB_SERVER);
    expect(serverUrlFor('registry-1.docker.io')).toBe(DOCKER_HUB_SERVER);
    expect(serverUrlFor('ghcr.io')).toBe('ghcr.io');
  });

  it('explicit map matches hosts, with or without scheme, Hub aliases included', async () => {
    const r = explicitCredentials({ 'https://index.docker.io/v1/': `Basic ${b64('hub:1')}`, '127.0.0.1:5000': 'Bearer t' });
    expect(await r('docker.io', 'library/node')).toEqual({ kind: 'basic', username: 'hub', password: '1' });
    expect(await r('127.0.0.1:5000', 'a')).toEqual({ kind: 'header', value: 'Bearer t' });
    expect(await r('127.0.0.1:5001', 'a')).toBeUndefined();
  });
});

describe('defaultCredentials', () => {
  it('CNB_REGISTRY_AUTH comes first', async () => {
    await writeJson(join(dir, '.docker', 'config.json'), { auths: { 'r.example': { auth: b64('file:x') } } });
    const r = defaultCredentials({ home: dir, env: envWith({ CNB_REGISTRY_AUTH: JSON.stringify({ 'r.example': `Basic ${b64('env:y')}` }) }) });
    expect(await r('r.example', 'a')).toEqual({ kind: 'basic', username: 'env', password: 'y' });
  });

  it('rejects a malformed CNB_REGISTRY_AUTH with USAGE', async () => {
    const r = defaultCredentials({ home: dir, env: envWith({ CNB_REGISTRY_AUTH: '{nope' }) });
    await expect(r('r.example', 'a')).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('reads ~/.docker/config.json, and $DOCKER_CONFIG instead when set', async () => {
    await writeJson(join(dir, '.docker', 'config.json'), { auths: { 'https://index.docker.io/v1/': { auth: b64('hub:h') } } });
    await writeJson(join(dir, 'alt', 'config.json'), { auths: { 'http://r.example/v2/': { username: 'alt', password: 'a' } } });
    const home = defaultCredentials({ home: dir, env: envWith({}) });
    expect(await home('docker.io', 'library/x')).toEqual({ kind: 'basic', username: 'hub', password: 'h' });
    expect(await home('r.example', 'x')).toBeUndefined();
    const alt = defaultCredentials({ home: dir, env: envWith({ DOCKER_CONFIG: join(dir, 'alt') }) });
    expect(await alt('r.example', 'x')).toEqual({ kind: 'basic', username: 'alt', password: 'a' });
    expect(await alt('docker.io', 'library/x')).toBeUndefined();
  });

  it('runs credHelpers for their host and credsStore for the rest, through a real helper script', async () => {
    const bin = await fakeHelper('fake', {
      'r.example': { Username: 'helper-user', Secret: 'helper-secret' },
      [DOCKER_HUB_SERVER]: { Username: '<token>', Secret: 'refresh-tok' },
    });
    const bin2 = await fakeHelper('store', { 'other.example': { Username: 'store-user', Secret: 's' } });
    await writeJson(join(dir, '.docker', 'config.json'), {
      auths: { 'r.example': {}, 'plain.example': { auth: b64('p:q') } },
      credHelpers: { 'r.example': 'fake', 'docker.io': 'fake' },
      credsStore: 'store',
    });
    const withPath = defaultCredentials({ home: dir, env: envWith({ PATH: `${bin}:${bin2}:${process.env.PATH}` }) });
    expect(await withPath('r.example', 'a')).toEqual<Credential>({ kind: 'basic', username: 'helper-user', password: 'helper-secret' });
    expect(await withPath('docker.io', 'library/a')).toEqual<Credential>({ kind: 'identity-token', token: 'refresh-tok' });
    expect(await withPath('other.example', 'a')).toEqual<Credential>({ kind: 'basic', username: 'store-user', password: 's' });
    // The store does not know it: the file entry is used.
    expect(await withPath('plain.example', 'a')).toEqual<Credential>({ kind: 'basic', username: 'p', password: 'q' });
    expect(await withPath('nowhere.example', 'a')).toBeUndefined();
  });

  it('reports a failing or missing helper as AUTH without leaking its output secrets', async () => {
    const failing = await fromCredentialHelper('x', 'r.example', {
      runHelper: async () => ({ exitCode: 2, stdout: '', stderr: 'boom Authorization: Basic c2VjcmV0' }),
    }).catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(LadingError);
    expect((failing as LadingError).code).toBe('AUTH');
    expect((failing as LadingError).message).not.toContain('c2VjcmV0');
    const missing = await fromCredentialHelper('surely-not-installed-lading', 'r.example').catch((e: unknown) => e);
    expect((missing as LadingError).message).toMatch(/docker-credential-surely-not-installed-lading could not be run: not found on PATH/);
  });

  it('falls through to REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR and ~/.config auth.json, most specific namespace wins', async () => {
    await writeJson(join(dir, 'authfile.json'), { auths: { 'a.example': { auth: b64('authfile:1') } } });
    await writeJson(join(dir, 'run', 'containers', 'auth.json'), {
      auths: { 'b.example': { auth: b64('host:2') }, 'b.example/team': { auth: b64('team:3') }, 'b.example/team/app': { auth: b64('app:4') } },
    });
    await writeJson(join(dir, '.config', 'containers', 'auth.json'), { auths: { 'c.example': { auth: b64('cfg:5') } } });
    const r = defaultCredentials({ home: dir, env: envWith({ REGISTRY_AUTH_FILE: join(dir, 'authfile.json'), XDG_RUNTIME_DIR: join(dir, 'run') }) });
    const user = async (reg: string, repo: string) => ((await r(reg, repo)) as { username?: string } | undefined)?.username;
    expect(await user('a.example', 'x')).toBe('authfile');
    expect(await user('b.example', 'other/x')).toBe('host');
    expect(await user('b.example', 'team/x')).toBe('team');
    expect(await user('b.example', 'team/app')).toBe('app');
    expect(await user('b.example', 'teamster/x')).toBe('host');
    expect(await user('c.example', 'x')).toBe('cfg');
    expect(await r('d.example', 'x')).toBeUndefined();
  });

  it('chains resolvers', async () => {
    const r = chainCredentials(async () => undefined, explicitCredentials({ 'r.example': 'Bearer z' }));
    expect(await r('r.example', 'a')).toEqual({ kind: 'header', value: 'Bearer z' });
  });
});

describe('defaultCredentials identity', () => {
  it('returns one resolver per environment object, so registry clients are shared', () => {
    const env = { HOME: '/nowhere' };
    expect(defaultCredentials({ env })).toBe(defaultCredentials({ env }));
    expect(defaultCredentials()).toBe(defaultCredentials({ env: process.env }));
    expect(defaultCredentials({ env })).not.toBe(defaultCredentials({ env: { ...env } }));
  });
});
