import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { imageFromSource, indexFromSource, readAll, validateImage, writeImage } from '../image/index.js';
import { MediaType, serializeManifest, type Image, type ImageIndex } from '../oci/index.js';
import { parseRegistryReference } from '../reference.js';
import { randomImage } from '../../test/support/random-image.js';
import { startRegistry, type TestRegistry } from '../../test/support/registry.js';
import { requireTools } from '../../test/support/tools.js';
import { explicitCredentials, type CredentialResolver } from './credentials.js';
import { BLOB_LOCATION_MIN_SIZE, fileBlobLocations, openRegistrySink, openRegistrySource, type RegistryEvent, type RegistryOptions } from './index.js';

const exec = promisify(execFile);
const HAVE = requireTools('docker-registry', 'htpasswd', 'openssl', 'skopeo');
const FAST = { retries: 2, minDelayMs: 5, maxDelayMs: 20 };

function basicCreds(reg: TestRegistry, password = reg.password as string): CredentialResolver {
  return explicitCredentials({ [reg.host]: `Basic ${Buffer.from(`${reg.username}:${password}`).toString('base64')}` });
}

async function push(ref: string, image: Image, options: RegistryOptions): Promise<void> {
  const sink = await openRegistrySink(parseRegistryReference(ref), options);
  await writeImage(sink, image);
  await sink.commit();
}

async function pullAndCheck(ref: string, image: Image, options: RegistryOptions): Promise<void> {
  const source = await openRegistrySource(parseRegistryReference(ref), options);
  const desc = await source.resolve();
  expect(desc).toEqual(image.descriptor);
  const pulled = await imageFromSource(source, desc);
  expect(pulled.rawManifest.equals(image.rawManifest)).toBe(true);
  expect(pulled.rawConfig.equals(image.rawConfig)).toBe(true);
  await validateImage(pulled);
}

async function skopeoInspect(ref: string, creds?: string): Promise<{ Digest: string; Layers: string[] }> {
  const args = ['inspect', '--tls-verify=false', ...(creds ? ['--creds', creds] : ['--no-creds']), `docker://${ref}`];
  const { stdout } = await exec('skopeo', args, { timeout: 30_000 });
  return JSON.parse(stdout) as { Digest: string; Layers: string[] };
}

describe.skipIf(!HAVE)('registry client against the real registry 2.8', () => {
  describe('anonymous', () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startRegistry();
    });
    afterAll(async () => {
      await reg?.stop();
    });

    it('pushes and pulls a random image byte for byte; skopeo reads it', async () => {
      const image = await randomImage({ layers: 3 });
      const events: RegistryEvent[] = [];
      await push(`${reg.host}/anon/app:v1`, image, { retry: FAST, onEvent: (e) => events.push(e) });
      expect(events.filter((e) => e.type === 'blob').map((e) => (e as { result: string }).result)).toEqual(['uploaded', 'uploaded', 'uploaded', 'uploaded']);
      await pullAndCheck(`${reg.host}/anon/app:v1`, image, { retry: FAST });
      await pullAndCheck(`${reg.host}/anon/app@${image.descriptor.digest}`, image, { retry: FAST });
      const info = await skopeoInspect(`${reg.host}/anon/app:v1`);
      expect(info.Digest).toBe(image.descriptor.digest);
      expect(info.Layers).toEqual(image.layers.map((l) => l.digest));
      // A second push finds every blob in place.
      const again: RegistryEvent[] = [];
      await push(`${reg.host}/anon/app:v2`, image, { retry: FAST, onEvent: (e) => again.push(e) });
      expect(again.filter((e) => e.type === 'blob').every((e) => (e as { result: string }).result === 'exists')).toBe(true);
    });

    it('pushes a Docker schema2 image and big layers in chunks', async () => {
      const image = await randomImage({ layers: 2, docker: true, layerSize: 300_000, compressed: false });
      const events: RegistryEvent[] = [];
      await push(`${reg.host}/anon/docker:v1`, image, { retry: FAST, monolithicLimit: 100_000, chunkSize: 64 * 1024, onEvent: (e) => events.push(e) });
      expect(events.filter((e) => e.type === 'upload-progress').length).toBeGreaterThan(8);
      await pullAndCheck(`${reg.host}/anon/docker:v1`, image, { retry: FAST });
      expect((await skopeoInspect(`${reg.host}/anon/docker:v1`)).Digest).toBe(image.descriptor.digest);
    });

    it('pushes an OCI index after its children and pulls it back', async () => {
      const a = await randomImage({ layers: 1 });
      const b = await randomImage({ layers: 1 });
      const index: ImageIndex = {
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [
          { ...a.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
          { ...b.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      };
      const { bytes, digest } = serializeManifest(index);
      const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/anon/multi:v1`), { retry: FAST });
      await writeImage(sink, a, { tag: false });
      await writeImage(sink, b, { tag: false });
      const desc = await sink.putManifest(bytes, MediaType.OciIndex, { tag: true });
      expect(desc.digest).toBe(digest);
      await sink.commit();
      const source = await openRegistrySource(parseRegistryReference(`${reg.host}/anon/multi:v1`), { retry: FAST });
      const root = await source.resolve();
      expect(root).toEqual({ mediaType: MediaType.OciIndex, digest, size: bytes.byteLength });
      const pulled = await indexFromSource(source, root);
      expect(pulled.rawManifest.equals(bytes)).toBe(true);
      const child = await imageFromSource(source, pulled.manifest.manifests[1]!);
      expect(child.descriptor.digest).toBe(b.descriptor.digest);
      await validateImage(child);
      const raw = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${reg.host}/anon/multi:v1`]);
      expect(Buffer.from(raw.stdout).equals(bytes)).toBe(true);
    });

    it('mounts blobs across repositories instead of uploading them', async () => {
      const image = await randomImage({ layers: 2 });
      await push(`${reg.host}/anon/base:v1`, image, { retry: FAST });
      const source = await openRegistrySource(parseRegistryReference(`${reg.host}/anon/base:v1`), { retry: FAST });
      const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/anon/derived:v1`), { retry: FAST });
      let opened = 0;
      const results = [];
      for (const desc of [...image.manifest.layers, image.manifest.config]) {
        results.push(await sink.putBlob(desc, async () => {
          opened++;
          return source.blob(desc);
        }, { from: source.repository! }));
      }
      expect(results).toEqual(['mounted', 'mounted', 'mounted']);
      expect(opened).toBe(0);
      await sink.putManifest(image.rawManifest, image.descriptor.mediaType, { tag: true });
      await sink.commit();
      await pullAndCheck(`${reg.host}/anon/derived:v1`, image, { retry: FAST });
    });

    it('remembers where large blobs went and mounts them into the next repository instead of uploading', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'lading-blob-locations-'));
      try {
        const blobLocations = fileBlobLocations(dir);
        // one layer above the size worth remembering, one below
        const big = await randomImage({ layers: 1, layerSize: BLOB_LOCATION_MIN_SIZE + 1 });
        const events: RegistryEvent[] = [];
        const results = () => events.filter((e) => e.type === 'blob').map((e) => (e as { size: number; result: string }).size >= BLOB_LOCATION_MIN_SIZE ? `big:${(e as { result: string }).result}` : (e as { result: string }).result).sort();
        await push(`${reg.host}/anon/first:v1`, big, { retry: FAST, blobLocations, onEvent: (e) => events.push(e) });
        expect(results()).toEqual(['big:uploaded', 'uploaded']);
        expect(await blobLocations.get(reg.host, big.manifest.layers[0]!.digest)).toBe('anon/first');
        expect(await blobLocations.get(reg.host, big.manifest.config.digest)).toBeUndefined();
        events.length = 0;
        await push(`${reg.host}/anon/second:v1`, big, { retry: FAST, blobLocations, onEvent: (e) => events.push(e) });
        expect(results()).toEqual(['big:mounted', 'uploaded']);
        await pullAndCheck(`${reg.host}/anon/second:v1`, big, { retry: FAST });
        // a stale location (the repository never had it) only costs the upload
        const other = await randomImage({ layers: 1, layerSize: BLOB_LOCATION_MIN_SIZE + 1 });
        await blobLocations.put(reg.host, other.manifest.layers[0]!.digest, 'anon/nowhere');
        events.length = 0;
        await push(`${reg.host}/anon/third:v1`, other, { retry: FAST, blobLocations, onEvent: (e) => events.push(e) });
        expect(results()).toEqual(['big:uploaded', 'uploaded']);
        await pullAndCheck(`${reg.host}/anon/third:v1`, other, { retry: FAST });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('tags nothing before commit, and nothing after abort', async () => {
      const image = await randomImage({ layers: 1 });
      const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/anon/pending:v1`), { retry: FAST });
      await writeImage(sink, image);
      const source = await openRegistrySource(parseRegistryReference(`${reg.host}/anon/pending:v1`), { retry: FAST });
      await expect(source.resolve()).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await sink.abort();
      await sink.commit();
      await expect(source.resolve()).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // The manifest itself is there by digest.
      const byDigest = await openRegistrySource(parseRegistryReference(`${reg.host}/anon/pending@${image.descriptor.digest}`), { retry: FAST });
      expect((await byDigest.resolve()).digest).toBe(image.descriptor.digest);
      const blob = await readAll(await byDigest.blob(image.manifest.config));
      expect(blob.equals(image.rawConfig)).toBe(true);
    });
  });

  describe('htpasswd (Basic)', () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ auth: 'htpasswd' });
    });
    afterAll(async () => {
      await reg?.stop();
    });

    it('round-trips with the right password; skopeo reads it with creds', async () => {
      const image = await randomImage({ layers: 2 });
      await push(`${reg.host}/basic/app:v1`, image, { retry: FAST, credentials: basicCreds(reg) });
      await pullAndCheck(`${reg.host}/basic/app:v1`, image, { retry: FAST, credentials: basicCreds(reg) });
      const info = await skopeoInspect(`${reg.host}/basic/app:v1`, `${reg.username}:${reg.password}`);
      expect(info.Digest).toBe(image.descriptor.digest);
    });

    it('fails with AUTH, without the password in the message, for a wrong password or none', async () => {
      const wrong = 'not-the-password-xyz123';
      const source = await openRegistrySource(parseRegistryReference(`${reg.host}/basic/app:v1`), { retry: FAST, credentials: basicCreds(reg, wrong) });
      const err = (await source.resolve().catch((e: unknown) => e)) as Error & { code: string };
      expect(err.code).toBe('AUTH');
      expect(err.message).toContain(`refused the credentials for user "${reg.username}"`);
      expect(err.message).not.toContain(wrong);
      expect(JSON.stringify(err)).not.toContain(wrong);
      const anon = await openRegistrySource(parseRegistryReference(`${reg.host}/basic/app:v1`), { retry: FAST, credentials: async () => undefined });
      await expect(anon.resolve()).rejects.toMatchObject({ code: 'AUTH', message: expect.stringContaining('no credentials were found') });
    });
  });
});
