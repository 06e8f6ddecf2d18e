import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedTlsServer, type TlsServer } from '../../test/support/tls-server.js';
import { DEFERRED_EXTRA_CA_ENV, forgetExtraCaCerts, resumeExtraCaCerts } from './extra-ca.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

describe('bin/lading moves NODE_EXTRA_CA_CERTS aside before node starts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lading-bin-ca-'));
    await mkdir(join(dir, 'pkg', 'bin'), { recursive: true });
    await copyFile(join(ROOT, 'bin', 'lading'), join(dir, 'pkg', 'bin', 'lading'));
    // a stand-in for the CLI entry: what node was started with
    await writeFile(join(dir, 'pkg', 'bin', 'lading.mjs'), `process.stdout.write(JSON.stringify({ extra: process.env.NODE_EXTRA_CA_CERTS ?? null, deferred: process.env.${DEFERRED_EXTRA_CA_ENV} ?? null, args: process.argv.slice(2) }))`);
    // as npm links it: node_modules/.bin/lading -> ../pkg/bin/lading
    await mkdir(join(dir, '.bin'));
    await symlink(join('..', 'pkg', 'bin', 'lading'), join(dir, '.bin', 'lading'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const started = async (bin: string, env: Record<string, string>) => {
    const { stdout } = await run('/bin/sh', [bin, 'build', 'app', '--json'], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env } });
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  it('directly and through a symlink, keeping the arguments; left alone when NODE_OPTIONS picks a CA store', async () => {
    for (const bin of [join(dir, 'pkg', 'bin', 'lading'), join(dir, '.bin', 'lading')]) {
      expect(await started(bin, { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem' })).toEqual({ extra: null, deferred: '/etc/ssl/corp.pem', args: ['build', 'app', '--json'] });
      expect(await started(bin, {})).toEqual({ extra: null, deferred: null, args: ['build', 'app', '--json'] });
      expect(await started(bin, { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem', NODE_OPTIONS: '--use-openssl-ca' })).toMatchObject({ extra: '/etc/ssl/corp.pem', deferred: null });
    }
  });
});

describe('resumeExtraCaCerts', () => {
  let server: TlsServer;
  beforeAll(async () => {
    server = await selfSignedTlsServer();
  }, 60_000);
  afterAll(async () => {
    forgetExtraCaCerts();
    await server.close();
  });

  const viaHttps = (options: { ca?: string } = {}) =>
    new Promise<string>((resolve, reject) => {
      get(server.url, { agent: false, ...options }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
  const viaUndici = async () => {
    const dispatcher = new Agent();
    try {
      return await (await request(server.url, { dispatcher })).body.text();
    } finally {
      await dispatcher.close();
    }
  };

  it('puts the file back for child processes and has this process trust it, as Node would have at start-up', async () => {
    await expect(viaHttps()).rejects.toThrow(/self.signed|certificate/i);
    const env: Record<string, string | undefined> = { [DEFERRED_EXTRA_CA_ENV]: server.certFile };
    resumeExtraCaCerts(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: server.certFile });
    expect(await viaHttps()).toBe('trusted');
    expect(await viaUndici()).toBe('trusted');
    // a client that names its own CAs trusts those alone, as with Node's own NODE_EXTRA_CA_CERTS
    await expect(viaHttps({ ca: await readFile(await server.otherCert(), 'utf8') })).rejects.toThrow(/certificate/i);
    forgetExtraCaCerts();
    await expect(viaHttps()).rejects.toThrow(/self.signed|certificate/i);
  });
});
