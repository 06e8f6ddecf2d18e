import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedTlsServer, type TlsServer } from '../../test/support/tls-server.js';
import { trustingDispatcher } from './dependency/http.js';
import { DEFERRED_EXTRA_CA_ENV, deferredExtraCaCerts, restoreExtraCaCerts } from './extra-ca.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

describe('bin/detect and bin/build move NODE_EXTRA_CA_CERTS aside before node starts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lading-extra-ca-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Each script, copied next to a stand-in for the JavaScript it starts, which prints what node was given.
  const started = async (bp: string, phase: 'detect' | 'build', env: Record<string, string>) => {
    const bin = join(dir, bp, phase);
    await run('mkdir', ['-p', bin]);
    await copyFile(join(root, 'buildpacks', bp, 'bin', phase), join(bin, phase));
    const report = 'process.stdout.write(JSON.stringify({ extra: process.env.NODE_EXTRA_CA_CERTS ?? null, deferred: process.env.' + DEFERRED_EXTRA_CA_ENV + ' ?? null, args: process.argv.slice(2) }))';
    await writeFile(join(bin, `${phase}.mjs`), report);
    // In an empty app dir (node's bin/detect passes a package.json without starting node), with BP_GO_TARGETS
    // set (go's fails a directory without go.mod without node unless that is set).
    const { stdout } = await run('/bin/sh', [join(bin, phase), '/platform', '/plan.toml'], { cwd: dir, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', BP_GO_TARGETS: '.', ...env } });
    return JSON.parse(stdout) as { extra: string | null; deferred: string | null; args: string[] };
  };

  for (const bp of ['node', 'go', 'java', 'python']) {
    for (const phase of ['detect', 'build'] as const) {
      it(`${bp} bin/${phase}`, async () => {
        expect(await started(bp, phase, { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem' })).toEqual({ extra: null, deferred: '/etc/ssl/corp.pem', args: ['/platform', '/plan.toml'] });
        expect(await started(bp, phase, {})).toEqual({ extra: null, deferred: null, args: ['/platform', '/plan.toml'] });
        // a CA store chosen through NODE_OPTIONS: Node's own handling is left alone
        expect(await started(bp, phase, { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem', NODE_OPTIONS: '--use-openssl-ca' })).toMatchObject({ extra: '/etc/ssl/corp.pem', deferred: null });
      });
    }
  }
});

describe('a deferred NODE_EXTRA_CA_CERTS', () => {
  let server: TlsServer;
  beforeAll(async () => {
    server = await selfSignedTlsServer();
  }, 60_000);
  afterAll(() => server.close());

  const get = async () => {
    const { request } = await import('undici');
    const res = await request(server.url, { dispatcher: await trustingDispatcher({ env: {} }) });
    return res.body.text();
  };

  it('goes back into the environment for child processes, and the buildpack’s own connections trust it as Node would', async () => {
    await expect(get()).rejects.toThrow(/self.signed|certificate/i);
    const env: Record<string, string | undefined> = { [DEFERRED_EXTRA_CA_ENV]: server.certFile };
    restoreExtraCaCerts(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: server.certFile });
    expect(deferredExtraCaCerts()).toBe(server.certFile);
    expect(await get()).toBe('trusted');
  });
});
