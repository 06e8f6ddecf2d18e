import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { imageFromSource, validateImage, writeImage } from '../image/index.js';
import { parseRegistryReference } from '../reference.js';
import { randomImage } from '../../test/support/random-image.js';
import { startRegistry, type TestRegistry } from '../../test/support/registry.js';
import { requireTools } from '../../test/support/tools.js';
import type { Credential } from './credentials.js';
import { openRegistrySink, openRegistrySource, type RegistryOptions } from './index.js';

const exec = promisify(execFile);
const HAVE = requireTools('docker-registry', 'htpasswd', 'openssl', 'skopeo');
const FAST = { retries: 2, minDelayMs: 5, maxDelayMs: 20 };

describe.skipIf(!HAVE)('Bearer token auth against the real registry 2.8 and a test token server', () => {
  let reg: TestRegistry;
  const options = (cred: Credential | undefined): RegistryOptions => ({ retry: FAST, credentials: async () => cred });
  beforeAll(async () => {
    reg = await startRegistry({
      auth: 'token',
      token: { refreshTokens: { 'refresh-token-for-lading': 'lading' }, allow: (_u, repo, actions) => (repo.startsWith('private/') ? [] : repo.startsWith('readonly/') ? actions.filter((a) => a === 'pull') : actions) },
    });
  });
  afterAll(async () => {
    await reg?.stop();
  });
  const basic = (): Credential => ({ kind: 'basic', username: reg.username as string, password: reg.password as string });

  it('round-trips an image with tokens scoped per repository and cached', async () => {
    const image = await randomImage({ layers: 3 });
    const before = reg.tokenServer!.requests.length;
    const shared = options(basic()); // one resolver: source and sink share one client and token cache
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/tok/app:v1`), shared);
    await writeImage(sink, image);
    await sink.commit();
    const pushRequests = reg.tokenServer!.requests.slice(before);
    // One token for pull,push on the repository serves every blob, manifest and tag request.
    expect(pushRequests).toHaveLength(1);
    expect(pushRequests[0]).toMatchObject({ method: 'GET', user: 'lading', granted: true });
    expect(pushRequests[0]!.scopes.sort()).toEqual(['repository:tok/app:pull,push'].sort());

    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/tok/app:v1`), shared);
    const desc = await source.resolve();
    const pulled = await imageFromSource(source, desc);
    expect(pulled.rawManifest.equals(image.rawManifest)).toBe(true);
    await validateImage(pulled);
    // Same credentials and registry: the pull,push token already covers pulling.
    expect(reg.tokenServer!.requests.length).toBe(before + 1);

    const { stdout } = await exec('skopeo', ['inspect', '--tls-verify=false', '--creds', `${reg.username}:${reg.password}`, `docker://${reg.host}/tok/app:v1`]);
    expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(image.descriptor.digest);
  });

  it('asks for the union scope to mount across repositories', async () => {
    const image = await randomImage({ layers: 1 });
    const shared = options(basic());
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/tok/base:v1`), shared);
    await writeImage(sink, image);
    await sink.commit();
    const from = { registry: reg.host, repository: 'tok/base' };
    const target = await openRegistrySink(parseRegistryReference(`${reg.host}/tok/other:v1`), shared);
    const before = reg.tokenServer!.requests.length;
    const results = [];
    for (const d of [...image.manifest.layers, image.manifest.config]) {
      results.push(await target.putBlob(d, async () => {
        throw new Error('must mount, not upload');
      }, { from }));
    }
    expect(results).toEqual(['mounted', 'mounted']);
    const scopes = reg.tokenServer!.requests.slice(before).map((r) => [...r.scopes].sort().join(' '));
    expect(scopes).toContain('repository:tok/base:pull repository:tok/other:pull,push');
  });

  it('uploads instead of mounting when the source repository is not readable', async () => {
    const image = await randomImage({ layers: 1 });
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/tok/fallback:v1`), options(basic()));
    let opened = 0;
    const layer = image.layers[0]!;
    const result = await sink.putBlob(image.manifest.layers[0]!, async () => {
      opened++;
      return layer.compressed();
    }, { from: { registry: reg.host, repository: 'private/base' } });
    expect([result, opened]).toEqual(['uploaded', 1]);
  });

  it('uses the OAuth2 refresh_token POST flow for identity tokens', async () => {
    const image = await randomImage({ layers: 1 });
    const before = reg.tokenServer!.requests.length;
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/tok/oauth:v1`), options({ kind: 'identity-token', token: 'refresh-token-for-lading' }));
    await writeImage(sink, image);
    await sink.commit();
    const reqs = reg.tokenServer!.requests.slice(before);
    expect(reqs.length).toBeGreaterThan(0);
    expect(reqs.every((r) => r.method === 'POST' && r.user === 'lading' && r.granted)).toBe(true);
  });

  it('wrong password → AUTH naming the registry, never the password', async () => {
    const wrong = 'definitely-wrong-password-42';
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/tok/app:v1`), options({ kind: 'basic', username: 'lading', password: wrong }));
    const err = (await source.resolve().catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain(reg.host);
    expect(err.message).toContain('refused the credentials');
    expect(err.message).not.toContain(wrong);
    expect(String((err as { cause?: unknown }).cause ?? '')).not.toContain(wrong);
  });

  it('a push the token server does not grant fails with AUTH after a bounded number of token requests', async () => {
    const image = await randomImage({ layers: 1 });
    const before = reg.tokenServer!.requests.length;
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/readonly/app:v1`), options(basic()));
    const err = (await writeImage(sink, image).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('AUTH');
    expect(reg.tokenServer!.requests.length - before).toBeLessThanOrEqual(6);
  });
});
