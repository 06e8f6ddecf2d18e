import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { request } from 'undici';
import { startRegistry } from './registry.js';
import { requireTools } from './tools.js';

const HAVE = requireTools('docker-registry', 'htpasswd', 'openssl');

async function v2(url: string, authorization?: string): Promise<{ status: number; challenge: string | undefined }> {
  const res = await request(`${url}/v2/`, { headers: authorization ? { authorization } : {} });
  await res.body.dump();
  const h = res.headers['www-authenticate'];
  return { status: res.statusCode, challenge: Array.isArray(h) ? h[0] : h };
}

describe.skipIf(!HAVE)('test/support/registry harness', () => {
  it('starts an open registry on loopback, survives kill + restart with its data, and cleans up', async () => {
    const reg = await startRegistry();
    try {
      expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await v2(reg.url)).toEqual({ status: 200, challenge: undefined });
      await reg.kill();
      await expect(request(`${reg.url}/v2/`)).rejects.toThrow();
      await reg.restart();
      expect((await v2(reg.url)).status).toBe(200);
    } finally {
      await reg.stop();
    }
    expect(existsSync(reg.dataDir)).toBe(false);
  });

  it('htpasswd: Basic challenge, the generated user gets in', async () => {
    const reg = await startRegistry({ auth: 'htpasswd' });
    try {
      expect(await v2(reg.url)).toEqual({ status: 401, challenge: 'Basic realm="lading-test"' });
      const ok = `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}`;
      expect((await v2(reg.url, ok)).status).toBe(200);
    } finally {
      await reg.stop();
    }
  });

  it('token: Bearer challenge naming the token server; its JWTs are accepted by 2.8', async () => {
    const reg = await startRegistry({ auth: 'token' });
    try {
      const first = await v2(reg.url);
      expect(first.status).toBe(401);
      expect(first.challenge).toBe(`Bearer realm="${reg.tokenServer!.url}",service="${reg.service}"`);
      const basic = `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}`;
      const tokenRes = await request(`${reg.tokenServer!.url}?service=${reg.service}`, { headers: { authorization: basic } });
      const { token } = (await tokenRes.body.json()) as { token: string };
      const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>);
      expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
      expect(Array.isArray(header!.x5c)).toBe(true);
      expect(payload).toMatchObject({ aud: reg.service, iss: 'lading-test-issuer', sub: reg.username });
      expect((await v2(reg.url, `Bearer ${token}`)).status).toBe(200);
      const wrong = await request(`${reg.tokenServer!.url}?service=${reg.service}`, {
        headers: { authorization: `Basic ${Buffer.from(`${reg.username}:nope`).toString('base64')}` },
      });
      await wrong.body.dump();
      expect(wrong.statusCode).toBe(401);
    } finally {
      await reg.stop();
    }
  });
});
