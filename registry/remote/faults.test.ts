import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { readAll, writeImage } from '../image/index.js';
import { MediaType, digestOf, serializeManifest, type LadingError } from '../oci/index.js';
import { parseRegistryReference } from '../reference.js';
import { startFakeRegistry, type FakeRegistry, type FakeRegistryOptions } from '../../test/support/fake-registry.js';
import { randomImage } from '../../test/support/random-image.js';
import { openRegistrySink, openRegistrySource, type RegistryEvent, type RegistryOptions } from './index.js';

let fake: FakeRegistry | undefined;
const extra: (() => Promise<void>)[] = [];
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  for (const f of extra.splice(0)) await f();
});

async function start(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  fake = await startFakeRegistry(options);
  return fake;
}

/** Options with instant retries; the delays asked for are recorded. */
function fast(delays: number[] = [], events: RegistryEvent[] = []): RegistryOptions {
  return {
    retry: { retries: 3, minDelayMs: 10, maxDelayMs: 60_000, sleep: async (ms) => void delays.push(ms) },
    onEvent: (e) => events.push(e),
    credentials: async () => undefined,
  };
}

async function seed(reg: FakeRegistry, repoTag: string) {
  const image = await randomImage({ layers: 2 });
  const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/${repoTag}`), fast());
  await writeImage(sink, image);
  await sink.commit();
  reg.requests.length = 0;
  return image;
}

const manifestGets = (reg: FakeRegistry) => reg.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/')).length;

describe('retries (in-process registry)', () => {
  it('retries 5xx and succeeds', async () => {
    let failures = 2;
    const reg = await start({
      intercept: (req, res) => {
        if (req.path.includes('/manifests/') && req.method === 'GET' && failures-- > 0) {
          res.writeHead(503).end('busy');
          return true;
        }
        return false;
      },
    });
    const image = await seed(reg, 'r/app:v1');
    failures = 2;
    const events: RegistryEvent[] = [];
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast([], events));
    expect((await source.resolve()).digest).toBe(image.descriptor.digest);
    expect(manifestGets(reg)).toBe(3);
    expect(events.filter((e) => e.type === 'retry').map((e) => (e as { reason: string }).reason)).toEqual(['HTTP 503', 'HTTP 503']);
  });

  it('honours Retry-After in seconds and as an HTTP date on 429', async () => {
    let answers = [{ 'retry-after': '7' }, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }];
    const reg = await start({
      intercept: (req, res) => {
        const h = req.method === 'GET' && req.path.includes('/manifests/') ? answers.shift() : undefined;
        if (!h) return false;
        res.writeHead(429, h).end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
        return true;
      },
    });
    const image = await seed(reg, 'r/app:v1');
    answers = [{ 'retry-after': '7' }, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }];
    const delays: number[] = [];
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast(delays));
    expect((await source.resolve()).digest).toBe(image.descriptor.digest);
    expect(delays[0]).toBe(7000);
    expect(delays[1]).toBeGreaterThan(25_000);
    expect(delays[1]).toBeLessThanOrEqual(30_000);
  });

  it.each([
    [401, 'AUTH'],
    [403, 'AUTH'],
    [404, 'NOT_FOUND'],
    [400, 'REGISTRY'],
  ])('never retries HTTP %i (→ %s)', async (status, code) => {
    const reg = await start({
      intercept: (req, res) => {
        if (!req.path.includes('/manifests/')) return false;
        res.writeHead(status, { 'content-type': 'application/json' }).end('{"errors":[{"code":"DENIED","message":"computer says no"}]}');
        return true;
      },
    });
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast());
    const err = (await source.resolve().catch((e: unknown) => e)) as LadingError;
    expect(err.code).toBe(code);
    expect(err.message).toContain(reg.host);
    if (status !== 401) expect(err.message).toContain('DENIED: computer says no');
    expect(manifestGets(reg)).toBe(1);
  });

  it('gives up on a persistent 500 with a temporary REGISTRY error after the retry budget', async () => {
    const reg = await start({
      intercept: (req, res) => {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}');
        return true;
      },
    });
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast());
    const err = (await source.resolve().catch((e: unknown) => e)) as LadingError;
    expect([err.code, err.temporary]).toEqual(['REGISTRY', true]);
    expect(err.message).toContain('UNKNOWN: disk on fire');
    expect(reg.requests).toHaveLength(4);
  });

  it('an unreachable registry is NETWORK (temporary) after bounded retries', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const events: RegistryEvent[] = [];
    const source = await openRegistrySource(parseRegistryReference(`127.0.0.1:${port}/r/app:v1`), fast([], events));
    const err = (await source.resolve().catch((e: unknown) => e)) as LadingError;
    expect([err.code, err.temporary]).toEqual(['NETWORK', true]);
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(3);
  });
});

describe('content checks (in-process registry)', () => {
  it('a manifest whose bytes do not match the requested digest is CONTENT_INVALID', async () => {
    const reg = await start();
    const image = await seed(reg, 'r/app:v1');
    const other = await randomImage({ layers: 1 });
    reg.manifests.set(`r/app@${image.descriptor.digest}`, { bytes: other.rawManifest, mediaType: MediaType.OciManifest });
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app@${image.descriptor.digest}`), fast());
    await expect(source.resolve()).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('does not match its digest') });
    const byTag = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast());
    await expect(byTag.manifest(image.descriptor.digest)).rejects.toMatchObject({ code: 'CONTENT_INVALID' });
  });

  it('a Docker-Content-Digest that disagrees with the bytes is CONTENT_INVALID', async () => {
    const reg = await start({
      intercept: (req, res) => {
        if (req.method !== 'GET' || !req.path.endsWith('/manifests/v1')) return false;
        const { bytes } = serializeManifest({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] });
        res.writeHead(200, { 'content-type': MediaType.OciIndex, 'docker-content-digest': digestOf('something else') }).end(bytes);
        return true;
      },
    });
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast());
    await expect(source.resolve()).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('Docker-Content-Digest') });
  });

  it('an unknown manifest media type is UNSUPPORTED', async () => {
    const reg = await start({
      intercept: (req, res) => {
        if (!req.path.endsWith('/manifests/v1')) return false;
        res.writeHead(200, { 'content-type': 'application/vnd.example.thing+json' }).end('{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json"}');
        return true;
      },
    });
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast());
    await expect(source.resolve()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });
});

describe('uploads (in-process registry)', () => {
  it('restarts an upload cut off mid-stream with a new session and fresh content', async () => {
    let cut = 1;
    const reg = await start({
      intercept: (req, res, raw) => {
        if (req.method === 'PUT' && req.path.includes('/blobs/uploads/') && cut-- > 0) {
          raw.once('data', () => raw.socket.destroy());
          return true;
        }
        return false;
      },
    });
    const image = await randomImage({ layers: 1, layerSize: 200_000, compressed: false });
    const layer = image.layers[0]!;
    let opened = 0;
    const events: RegistryEvent[] = [];
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/r/up:v1`), fast([], events));
    const result = await sink.putBlob(image.manifest.layers[0]!, async () => {
      opened++;
      return layer.compressed();
    });
    expect(result).toBe('uploaded');
    expect(opened).toBe(2);
    expect(reg.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(reg.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect(reg.blobs.get(layer.digest)?.byteLength).toBe(layer.size);
    expect(events.some((e) => e.type === 'retry' && e.what.startsWith('upload of'))).toBe(true);
  });

  it('includes the error body and redacts _state when an upload is refused', async () => {
    const reg = await start({
      intercept: (req, res) => {
        if (req.method !== 'PUT' || !req.path.includes('/blobs/uploads/')) return false;
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"code":"SIZE_INVALID","message":"size mismatch"}]}');
        return true;
      },
    });
    const image = await randomImage({ layers: 1 });
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/r/up:v1`), fast());
    const err = (await writeImage(sink, image).catch((e: unknown) => e)) as LadingError;
    expect(err.code).toBe('REGISTRY');
    expect(err.message).toContain('SIZE_INVALID: size mismatch');
    expect(err.message).toContain('_state=[redacted]');
    expect(err.message).not.toContain('secret-state');
    // one upload each for the layer and the config (they go up together), none retried
    expect(reg.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('refuses source content that does not match its descriptor', async () => {
    const reg = await start();
    const image = await randomImage({ layers: 1 });
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/r/up:v1`), fast());
    const desc = image.manifest.layers[0]!;
    const err = (await sink.putBlob(desc, async () => Readable.from([Buffer.alloc(desc.size, 1)])).catch((e: unknown) => e)) as LadingError;
    expect(err.code).toBe('CONTENT_INVALID');
    expect(reg.blobs.size).toBe(0);
  });

  it('shares one upload between concurrent puts of the same blob', async () => {
    const reg = await start();
    const image = await randomImage({ layers: 1 });
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/r/up:v1`), fast());
    const layer = image.layers[0]!;
    const results = await Promise.all([1, 2, 3].map(() => sink.putBlob(image.manifest.layers[0]!, () => layer.compressed())));
    expect(results).toEqual(['uploaded', 'uploaded', 'uploaded']);
    expect(reg.completedUploads).toBe(1);
  });
});

describe('redirects', () => {
  it('follows a blob redirect without sending Authorization to another origin', async () => {
    let seen: IncomingHttpHeaders | undefined;
    const cdn = createServer((req, res) => {
      seen = req.headers;
      res.writeHead(200).end('blob-bytes');
    });
    await new Promise<void>((r) => cdn.listen(0, '127.0.0.1', () => r()));
    extra.push(() => new Promise<void>((r) => {
      cdn.closeAllConnections();
      cdn.close(() => r());
    }));
    const cdnPort = (cdn.address() as AddressInfo).port;
    let sameOriginAuth: string | undefined;
    const reg = await start({
      intercept: (req, res) => {
        if (req.path.endsWith('/blobs/' + digestOf('blob-bytes'))) {
          sameOriginAuth = req.headers.authorization;
          res.writeHead(307, { location: `http://127.0.0.1:${cdnPort}/storage/blob?sig=x` }).end();
          return true;
        }
        return false;
      },
    });
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), {
      ...fast(),
      credentials: async () => ({ kind: 'registry-token', token: 'secret-bearer-token' }),
    });
    const body = await readAll(await source.blob({ mediaType: MediaType.OciLayerGzip, digest: digestOf('blob-bytes'), size: 10 }));
    expect(body.toString()).toBe('blob-bytes');
    expect(sameOriginAuth).toBe('Bearer secret-bearer-token');
    expect(seen?.authorization).toBeUndefined();
  });
});

describe('blob downloads (in-process registry)', () => {
  it('resumes a body cut off mid-stream with a Range request', async () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const digest = digestOf(payload);
    const ranges: (string | undefined)[] = [];
    const reg = await start({
      intercept: (req, res, raw) => {
        if (!req.path.endsWith(`/blobs/${digest}`)) return false;
        ranges.push(req.headers.range);
        if (!req.headers.range) {
          res.writeHead(200, { 'content-length': payload.length });
          res.write(payload.subarray(0, 100_000), () => raw.socket.destroy());
          return true;
        }
        const from = Number(/bytes=(\d+)-/.exec(req.headers.range)?.[1]);
        res.writeHead(206, { 'content-length': payload.length - from, 'content-range': `bytes ${from}-${payload.length - 1}/${payload.length}` });
        res.end(payload.subarray(from));
        return true;
      },
    });
    const events: RegistryEvent[] = [];
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast([], events));
    const got = await readAll(await source.blob({ mediaType: MediaType.OciLayer, digest, size: payload.length }));
    expect(got.equals(payload)).toBe(true);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(events.some((e) => e.type === 'retry' && e.reason.startsWith('body cut off'))).toBe(true);
  });

  it('a missing blob fails when opened, with NOT_FOUND', async () => {
    const reg = await start();
    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/r/app:v1`), fast());
    await expect(source.blob({ mediaType: MediaType.OciLayer, digest: digestOf('nope'), size: 4 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
