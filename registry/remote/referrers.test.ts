import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { copy } from '../copy/index.js';
import {
  EMPTY_JSON, EMPTY_JSON_DIGEST, MediaType, digestOf, parseManifest, serializeManifest,
  type ContentSink, type Descriptor, type Image,
} from '../oci/index.js';
import { writeImage } from '../image/index.js';
import { parseRegistryReference } from '../reference.js';
import { startFakeRegistry, type FakeRegistry } from '../../test/support/fake-registry.js';
import { randomImage } from '../../test/support/random-image.js';
import { startRegistry, type TestRegistry } from '../../test/support/registry.js';
import { requireTools } from '../../test/support/tools.js';
import { fallbackTag, openRegistrySink, openRegistrySource, type RegistryEvent, type RegistryOptions } from './index.js';

const HAVE = requireTools('docker-registry', 'htpasswd', 'openssl');
const FAST: RegistryOptions = { retry: { retries: 2, minDelayMs: 5, maxDelayMs: 20 }, credentials: async () => undefined };

/** An SBOM-like referrer artifact of `subject` (empty config, one layer). */
function artifact(subject: Descriptor, artifactType: string, text: string) {
  const blob = Buffer.from(text);
  const manifest = {
    schemaVersion: 2 as const,
    mediaType: MediaType.OciManifest,
    artifactType,
    config: { mediaType: MediaType.OciEmpty, digest: digestOf(EMPTY_JSON), size: 2 },
    layers: [{ mediaType: artifactType, digest: digestOf(blob), size: blob.byteLength }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': '1980-01-01T00:00:01Z', 'test.kind': text },
  };
  const { bytes, digest } = serializeManifest(manifest);
  return { blob, bytes, digest, manifest };
}

async function pushArtifact(sink: ContentSink, a: ReturnType<typeof artifact>): Promise<void> {
  expect(digestOf(EMPTY_JSON)).toBe(EMPTY_JSON_DIGEST);
  await sink.putBlob({ mediaType: MediaType.OciEmpty, digest: digestOf(EMPTY_JSON), size: 2 }, async () => Readable.from([EMPTY_JSON]));
  await sink.putBlob(a.manifest.layers[0]!, async () => Readable.from([a.blob]));
  await sink.putManifest(a.bytes, MediaType.OciManifest);
}

async function pushImage(host: string, repoTag: string, image: Image, options: RegistryOptions): Promise<void> {
  const sink = await openRegistrySink(parseRegistryReference(`${host}/${repoTag}`), options);
  await writeImage(sink, image);
  await sink.commit();
}

describe.skipIf(!HAVE)('referrers on the real registry 2.8 (fallback tag)', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    // the referrers here carry SBOM artifact types over placeholder bytes: this file tests the index, not SBOMs
    reg = await startRegistry({ checkSboms: false });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('maintains a deduplicated, digest-sorted sha256-<hex> index with artifactType and annotations', async () => {
    const image = await randomImage({ layers: 1 });
    await pushImage(reg.host, 'ref/app:v1', image, FAST);
    const cdx = artifact(image.descriptor, MediaType.CycloneDx, 'cyclonedx');
    const spdx = artifact(image.descriptor, MediaType.Spdx, 'spdx');
    const events: RegistryEvent[] = [];
    for (const a of [cdx, spdx, cdx]) {
      const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/ref/app`), { ...FAST, onEvent: (e) => events.push(e) });
      await pushArtifact(sink, a);
      await sink.commit();
    }
    expect(events.filter((e) => e.type === 'referrers-fallback').map((e) => (e as { count: number }).count)).toEqual([1, 2, 2]);

    const tagSource = await openRegistrySource(parseRegistryReference(`${reg.host}/ref/app:${fallbackTag(image.descriptor.digest)}`), FAST);
    const root = await tagSource.resolve();
    expect(root.mediaType).toBe(MediaType.OciIndex);
    const parsed = parseManifest((await tagSource.manifest(root.digest)).bytes, 'fallback', MediaType.OciIndex);
    const expected = [cdx, spdx]
      .map((a) => ({
        mediaType: MediaType.OciManifest, digest: a.digest, size: a.bytes.byteLength, artifactType: a.manifest.artifactType,
        annotations: a.manifest.annotations,
      }))
      .sort((x, y) => (x.digest < y.digest ? -1 : 1));
    expect(parsed.manifest).toEqual({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: expected });

    const source = await openRegistrySource(parseRegistryReference(`${reg.host}/ref/app:v1`), FAST);
    expect(await source.referrers(image.descriptor.digest)).toEqual(expected);
    expect(await source.referrers(digestOf('no such subject'))).toEqual([]);
  });

  it('copy --referrers carries referrers to another repository through the fallback tag', async () => {
    const image = await randomImage({ layers: 1 });
    await pushImage(reg.host, 'ref/src:v1', image, FAST);
    const sig = artifact(image.descriptor, MediaType.SigstoreBundle, 'signature');
    const sink = await openRegistrySink(parseRegistryReference(`${reg.host}/ref/src`), FAST);
    await pushArtifact(sink, sig);
    await sink.commit();

    const from = await openRegistrySource(parseRegistryReference(`${reg.host}/ref/src:v1`), FAST);
    const to = await openRegistrySink(parseRegistryReference(`${reg.host}/ref/dst:v1`), FAST);
    const result = await copy(from, to, { referrers: true });
    expect(result.referrers).toBe(1);
    expect(result.uploaded).toBe(0); // every blob mounted from ref/src
    const dst = await openRegistrySource(parseRegistryReference(`${reg.host}/ref/dst:v1`), FAST);
    expect((await dst.resolve()).digest).toBe(image.descriptor.digest);
    expect((await dst.referrers(image.descriptor.digest)).map((d) => d.digest)).toEqual([sig.digest]);
  });
});

describe('referrers API (in-process registry that serves it)', () => {
  let fake: FakeRegistry | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('uses the API and writes no fallback tag when the registry supports it', async () => {
    fake = await startFakeRegistry({ referrersApi: true });
    const image = await randomImage({ layers: 1 });
    await pushImage(fake.host, 'api/app:v1', image, FAST);
    const a = artifact(image.descriptor, MediaType.CycloneDx, 'sbom');
    const sink = await openRegistrySink(parseRegistryReference(`${fake.host}/api/app`), FAST);
    await pushArtifact(sink, a);
    await sink.commit();
    expect([...fake.tags.keys()].some((t) => t.includes('sha256-'))).toBe(false);
    const source = await openRegistrySource(parseRegistryReference(`${fake.host}/api/app:v1`), FAST);
    expect(await source.referrers(image.descriptor.digest)).toEqual([
      { mediaType: MediaType.OciManifest, digest: a.digest, size: a.bytes.byteLength, artifactType: MediaType.CycloneDx, annotations: a.manifest.annotations },
    ]);
    expect(fake.requests.some((r) => r.path.includes('/referrers/'))).toBe(true);
  });

  it('does not trust OCI-Subject alone: without a working API the fallback tag is written and read', async () => {
    fake = await startFakeRegistry({
      referrersApi: true,
      intercept: (req, res) => {
        if (!req.path.includes('/referrers/')) return false;
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
        return true;
      },
    });
    const image = await randomImage({ layers: 1 });
    await pushImage(fake.host, 'api/app:v1', image, FAST);
    const a = artifact(image.descriptor, MediaType.Spdx, 'spdx');
    const sink = await openRegistrySink(parseRegistryReference(`${fake.host}/api/app`), FAST);
    await pushArtifact(sink, a);
    await sink.commit();
    expect(fake.tags.has(`api/app:${fallbackTag(image.descriptor.digest)}`)).toBe(true);
    const source = await openRegistrySource(parseRegistryReference(`${fake.host}/api/app:v1`), FAST);
    expect((await source.referrers(image.descriptor.digest)).map((d) => [d.digest, d.artifactType])).toEqual([[a.digest, MediaType.Spdx]]);
  });

  it('an aborted push records no referrer', async () => {
    fake = await startFakeRegistry();
    const image = await randomImage({ layers: 1 });
    await pushImage(fake.host, 'api/app:v1', image, FAST);
    const sink = await openRegistrySink(parseRegistryReference(`${fake.host}/api/app`), FAST);
    await pushArtifact(sink, artifact(image.descriptor, MediaType.Spdx, 'spdx'));
    await sink.abort();
    await sink.commit();
    expect([...fake.tags.keys()].some((t) => t.includes('sha256-'))).toBe(false);
  });
});
