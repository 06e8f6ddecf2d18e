import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFromSource, writeImage } from '../../registry/image/index.js';
import { createLayer } from '../../registry/layers/index.js';
import { appendLayers, withConfig } from '../../registry/mutate/index.js';
import type { Image } from '../../registry/oci/index.js';
import { openSink, openSource } from '../../registry/open.js';
import { parseRegistryReference } from '../../registry/reference.js';
import { LIFECYCLE_METADATA_LABEL, parseLifecycleMetadata, serializeLifecycleMetadata } from '../../lifecycle/platform/index.js';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** Shared with stack.test.ts: .debs are content-addressed and verified. */
const DEB_CACHE = join(tmpdir(), 'lading-test-debs');

interface RebaseJson {
  image: string; digest: string; previousDigest: string; uploaded: number; warnings: string[]; addedPackages: string[];
  layers: { name: string; digest: string; reused: boolean }[];
  runImage: { topLayer: string; reference: string; image: string };
}

describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'docker-registry', 'skopeo', 'umoci', 'runc', 'go'))('lading rebase', () => {
  let dir: string;
  let registry: TestRegistry;
  let env: NodeJS.ProcessEnv;
  let v1: string;
  let v2: string;
  let app: Image;
  const read = async (ref: string): Promise<Image> => {
    const source = await openSource(parseRegistryReference(ref));
    try {
      return await imageFromSource(source, await source.resolve());
    } finally {
      await source.close();
    }
  };
  const blobCount = () => readdirSync(join(registry.dataDir, 'docker/registry/v2/blobs/sha256')).flatMap((d) => readdirSync(join(registry.dataDir, 'docker/registry/v2/blobs/sha256', d))).length;

  async function publishStack(version: string, tag: string): Promise<void> {
    const d = join(dir, version);
    cpSync(join(ROOT, 'test/fixtures/stacks', version), d, { recursive: true });
    const lock = await lading(['stack', 'lock', d], env);
    expect(lock.code, lock.stderr).toBe(0);
    const r = await lading(['stack', 'build', d, '--publish', `${registry.host}/stacks/mini`, '--tag', tag, '--deb-cache', DEB_CACHE, '--json'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-rebase-'));
    env = { LADING_HOME: join(dir, 'home') };
    registry = await startRegistry();
    await publishStack('mini-v1', 'v1');
    await publishStack('mini-v2', 'v2');
    v1 = `${registry.host}/stacks/mini/run-base:v1`;
    v2 = `${registry.host}/stacks/mini/run-base:v2`;
    // The app: the Go fixture on run-base v1 with the lifecycle label an export writes.
    const binary = join(dir, 'go-http');
    execFileSync('go', ['build', '-trimpath', '-o', binary, '.'], {
      cwd: join(ROOT, 'test/fixtures/apps/go-http'), env: { ...process.env, CGO_ENABLED: '1', GOPROXY: 'off', GOFLAGS: '', GOCACHE: join(dir, 'gocache') }, stdio: 'pipe',
    });
    const base = await read(v1);
    const layer = await createLayer({ entries: [{ type: 'file', path: '/workspace/go-http', source: binary, mode: 0o755 }] });
    const label = serializeLifecycleMetadata({
      app: [{ sha: layer.diffId }], buildpacks: [], config: { sha: '' }, launcher: { sha: '' }, processTypes: { sha: '' },
      runImage: { topLayer: base.layers.at(-1)!.diffId, reference: `${registry.host}/stacks/mini/run-base@${base.descriptor.digest}`, image: v1 },
      stack: { runImage: { image: v1 } },
    });
    app = withConfig(appendLayers(base, { layer }), { entrypoint: ['/workspace/go-http'], labels: { [LIFECYCLE_METADATA_LABEL]: label } });
    const sink = await openSink(parseRegistryReference(`${registry.host}/app:v1`));
    await writeImage(sink, app);
    await sink.commit();
    await layer.dispose();
  });
  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rebases onto v2 (a new tag of the same stack) without --force, sending only config and manifest', async () => {
    const before = blobCount();
    // --sbom none: the image SBOM referrers (the default) are extra blobs, counted apart (sbom-rebase.test.ts).
    const r = await lading(['rebase', `${registry.host}/app:v1`, '--publish', '--run-image', v2, '--sbom', 'none', '--json'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const out = r.json<RebaseJson>();
    expect(out.previousDigest).toBe(app.descriptor.digest);
    expect(out.digest).not.toBe(app.descriptor.digest);
    expect(out.uploaded).toBe(2);
    expect(blobCount() - before).toBe(2); // the new config and the manifest, nothing else
    expect(out.addedPackages).toEqual(['zlib1g']);
    expect(out.warnings.join('\n')).toContain('adds OS packages zlib1g');
    expect(out.layers.every((l) => l.reused)).toBe(true);

    const rebased = await read(`${registry.host}/app:v1`);
    const newBase = await read(v2);
    expect(rebased.descriptor.digest).toBe(out.digest);
    expect(rebased.layers.at(-1)!.digest).toBe(app.layers.at(-1)!.digest); // the app layer, byte-identical
    expect(rebased.layers.slice(0, -1).map((l) => l.digest)).toEqual(newBase.layers.map((l) => l.digest));
    expect(rebased.config.created).toBe(app.config.created);
    const meta = parseLifecycleMetadata(rebased.config.config!.Labels![LIFECYCLE_METADATA_LABEL]!);
    expect(meta.runImage).toEqual({ topLayer: newBase.layers.at(-1)!.diffId, reference: `${registry.host}/stacks/mini/run-base@${newBase.descriptor.digest}`, image: v2 });
    expect(rebased.config.config!.Labels!['io.buildpacks.base.description']).toBe('mini run image v2');

    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/app:v1`]).toString());
    expect(inspected.Digest).toBe(out.digest);
    expect(JSON.parse(inspected.Labels[LIFECYCLE_METADATA_LABEL]).runImage.image).toBe(v2);

    const layout = join(dir, 'layout');
    execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/app:v1`, `oci:${layout}:app`], { stdio: 'pipe' });
    const c = await runImage(layout, 'app');
    try {
      expect(await c.fetch('/')).toContain('uid=1000');
    } finally {
      await c.stop();
    }
  });

  it('is reproducible: rebasing onto the same run image again gives the same digest', async () => {
    const current = await read(`${registry.host}/app:v1`);
    const r = await lading(['rebase', `${registry.host}/app:v1`, '--publish', '--run-image', v2, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<RebaseJson>().digest).toBe(current.descriptor.digest);
  });

  it('refuses to go back to v1 (it removes zlib1g) without --force, and tags nothing', async () => {
    const current = await read(`${registry.host}/app:v1`);
    const r = await lading(['rebase', `${registry.host}/app:v1`, '--publish', '--run-image', v1], env);
    expect(r.code).toBe(72);
    expect(r.stderr).toContain('removes OS packages zlib1g');
    expect((await read(`${registry.host}/app:v1`)).descriptor.digest).toBe(current.descriptor.digest);
    const forced = await lading(['rebase', `${registry.host}/app:v1`, '--publish', '--run-image', v1, '--force', '--json'], env);
    expect(forced.code, forced.stderr).toBe(0);
    // Back on v1 under v1's name, the image is the original one, byte for byte.
    expect(forced.json<RebaseJson>().digest).toBe(app.descriptor.digest);
  });

  it('refuses a run image of another distro (exit 72), and an image without the lifecycle label (exit 72)', async () => {
    const base = await read(v2);
    const other = withConfig(base, { labels: { 'io.buildpacks.base.distro.name': 'ubuntu', 'io.buildpacks.base.distro.version': '24.04', 'io.buildpacks.base.id': 'io.example.noble' } });
    const sink = await openSink(parseRegistryReference(`${registry.host}/other/run:1`));
    await writeImage(sink, other);
    await sink.commit();
    const before = (await read(`${registry.host}/app:v1`)).descriptor.digest;
    const r = await lading(['rebase', `${registry.host}/app:v1`, '--publish', '--run-image', `${registry.host}/other/run:1`], env);
    expect(r.code).toBe(72);
    expect(r.stderr).toContain('io.buildpacks.base.distro.name is "debian" in the app, "ubuntu" in the run image');
    expect((await read(`${registry.host}/app:v1`)).descriptor.digest).toBe(before);

    const bare = await lading(['rebase', v1, '--publish', '--run-image', v2], env);
    expect(bare.code).toBe(72);
    expect(bare.stderr).toContain(`has no ${LIFECYCLE_METADATA_LABEL} label`);
  });
});
