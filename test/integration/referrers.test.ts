import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { lading } from '../support/cli.js';
import { requireTools } from '../support/tools.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { randomImage } from '../support/random-image.js';
import { writeImage } from '../../registry/image/index.js';
import { openSink } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import {
  EMPTY_JSON, EMPTY_JSON_DIGEST, MediaType, digestOf, serializeManifest,
  type ContentSink, type Descriptor, type Digest, type Image,
} from '../../registry/oci/index.js';

const enabled = requireTools('docker-registry', 'skopeo');

/** Pushes an artifact (one blob) that refers to `subject`; returns its descriptor. */
async function putArtifact(sink: ContentSink, subject: Descriptor, payload: string, artifactType: string): Promise<Descriptor> {
  const blob = Buffer.from(payload);
  const empty = { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST as Digest, size: 2 };
  await sink.putBlob(empty, async () => Readable.from([EMPTY_JSON]));
  const layer = { mediaType: artifactType, digest: digestOf(blob), size: blob.byteLength };
  await sink.putBlob(layer, async () => Readable.from([blob]));
  const { bytes } = serializeManifest({
    schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType, config: empty, layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': '1980-01-01T00:00:01Z' },
  });
  return sink.putManifest(bytes, MediaType.OciManifest);
}

describe.skipIf(!enabled)('lading copy --referrers and --all against the real registry', () => {
  let tmp: string;
  let registry: TestRegistry;
  let env: NodeJS.ProcessEnv;
  let image: Image;
  let sbom: Descriptor;
  let signature: Descriptor;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-refs-'));
    env = { LADING_HOME: join(tmp, 'home') };
    registry = await startRegistry({ auth: 'none' });
    image = await randomImage({ layers: 2 });
    const sink = await openSink(parseReference(`docker://${registry.host}/app/web:v1`), { env });
    await writeImage(sink, image);
    sbom = await putArtifact(sink, image.descriptor, '{"bomFormat":"CycloneDX","specVersion":"1.6"}', MediaType.CycloneDx);
    signature = await putArtifact(sink, sbom, '{"mediaType":"bundle"}', MediaType.SigstoreBundle);
    await sink.commit();
  });

  afterAll(async () => {
    await registry?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('finds referrers on the 2.8 registry through the fallback tag, and skopeo reads the artifact', async () => {
    const r = await lading(['inspect', `docker://${registry.host}/app/web:v1`, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const refs = r.json<{ referrers: { digest: string; artifactType: string }[] }>().referrers;
    expect(refs).toEqual([expect.objectContaining({ digest: sbom.digest, artifactType: MediaType.CycloneDx })]);
    const hex = image.descriptor.digest.slice('sha256:'.length);
    const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/app/web:sha256-${hex}`]).toString());
    expect(raw.manifests.map((m: Descriptor) => m.digest)).toContain(sbom.digest);
    const artifact = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/app/web@${sbom.digest}`]).toString());
    expect(artifact.subject.digest).toBe(image.descriptor.digest);
  });

  it('carries the SBOM and its signature through a layout to another repository only with --referrers', async () => {
    const layout = `oci:${join(tmp, 'layout')}:v1`;
    const toLayout = await lading(['copy', '--referrers', `docker://${registry.host}/app/web:v1`, layout, '--json'], env);
    expect(toLayout.code, toLayout.stderr).toBe(0);
    expect(toLayout.json().referrers).toBe(2);
    const inLayout = await lading(['inspect', layout, '--json'], env);
    expect(inLayout.json<{ referrers: { digest: string }[] }>().referrers.map((x) => x.digest)).toEqual([sbom.digest]);

    const back = await lading(['copy', '--referrers', layout, `docker://${registry.host}/mirror/web:v1`, '--json'], env);
    expect(back.code, back.stderr).toBe(0);
    const hex = sbom.digest.slice('sha256:'.length);
    const sigIndex = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/mirror/web:sha256-${hex}`]).toString());
    expect(sigIndex.manifests.map((m: Descriptor) => m.digest)).toEqual([signature.digest]);

    const plain = await lading(['copy', `docker://${registry.host}/app/web:v1`, `docker://${registry.host}/plain/web:v1`, '--json'], env);
    expect(plain.json().referrers).toBe(0);
    const none = await lading(['inspect', `docker://${registry.host}/plain/web:v1`, '--json'], env);
    expect(none.json<{ referrers: unknown[] }>().referrers).toEqual([]);
  });

  it('copies an index with every platform with --all, and the host platform image without it', async () => {
    const arm = await randomImage({ layers: 1 });
    const sink = await openSink(parseReference(`docker://${registry.host}/multi/app:v1`), { env });
    await writeImage(sink, image, { tag: false });
    await writeImage(sink, arm, { tag: false });
    const { bytes, digest } = serializeManifest({
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [
        { ...image.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    });
    await sink.putManifest(bytes, MediaType.OciIndex, { tag: true });
    await sink.commit();

    const all = await lading(['copy', '--all', `docker://${registry.host}/multi/app:v1`, `oci:${join(tmp, 'multi')}:v1`, '--json'], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.json().digest).toBe(digest);
    const back = await lading(['copy', '--all', `oci:${join(tmp, 'multi')}:v1`, `docker://${registry.host}/multi2/app:v1`, '--json'], env);
    expect(back.json().digest).toBe(digest);
    const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/multi2/app:v1`]);
    expect(digestOf(raw)).toBe(digest);

    const one = await lading(['copy', '--platform', 'linux/arm64', `docker://${registry.host}/multi/app:v1`, `oci:${join(tmp, 'one')}:v1`, '--json'], env);
    expect(one.json().digest).toBe(arm.descriptor.digest);
    const inspect = await lading(['inspect', `docker://${registry.host}/multi/app:v1`, '--json'], env);
    const j = inspect.json<{ index: { digest: string; manifests: { platform: string }[] }; digest: string }>();
    expect(j.index.digest).toBe(digest);
    expect(j.index.manifests.map((m) => m.platform)).toEqual(['linux/amd64', 'linux/arm64']);
  });
});
