import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { imageFromSource, validateImage, writeImage } from '../../registry/image/index.js';
import { openLayoutSink, openLayoutSource } from '../../registry/layout/index.js';
import type { ContentSink, ContentSource, Image, Layer } from '../../registry/oci/index.js';
import { openRegistrySink, openRegistrySource } from '../../registry/remote/index.js';
import { parseRegistryReference } from '../../registry/reference.js';
import { randomImage } from '../../test/support/random-image.js';
import { startRegistry, type TestRegistry } from '../../test/support/registry.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { requireTools } from '../../test/support/tools.js';
import { DirCache, treeState } from '../cache/index.js';
import { BUILD_METADATA_LABEL, LIFECYCLE_METADATA_LABEL, PROJECT_METADATA_LABEL, parseBuildMetadata, parseLifecycleMetadata } from '../platform/index.js';
import { analyze, creationTime, exportImage, restore, type BuildResult, type ExportInput } from './index.js';

const trees = tempTrees('lading-export-');
afterEach(() => trees.cleanup());

interface Entry { name: string; uid: number; gid: number; mode: number; type: string; body: string }
async function entriesOf(layer: Layer): Promise<Entry[]> {
  const out: Entry[] = [];
  const extract = tar.extract();
  (await layer.uncompressed()).pipe(extract);
  for await (const e of extract) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.push({ name: e.header.name, uid: e.header.uid ?? -1, gid: e.header.gid ?? -1, mode: e.header.mode ?? 0, type: e.header.type ?? '', body: Buffer.concat(chunks).toString() });
  }
  return out;
}

/** A layers dir as the build phase leaves it, and the matching BuildResult. */
async function buildFixture(options: { withRuntimeDir?: boolean; appText?: string } = {}): Promise<{ root: string; build: BuildResult }> {
  const root = await trees.create({
    'app/server.js': options.appText ?? 'console.log("hi")',
    'app/static/a.css': 'body{}',
    'layers/example_node/runtime/bin/node': '#!/bin/sh\necho node',
    'layers/example_node/runtime/env.launch/NODE_ENV': 'production',
    'layers/example_node/runtime/env.launch/worker/MODE.override': 'background',
    'layers/example_node/deps/node_modules/x/index.js': 'module.exports = 1',
    'layers/example_node/tools/cached.txt': 'tool',
    'layers/sbom/launch/example_node/runtime/sbom.cdx.json': '{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}',
  });
  await chmod(join(root, 'layers/example_node/runtime/bin/node'), 0o755);
  const dir = (n: string) => join(root, 'layers/example_node', n);
  const build: BuildResult = {
    buildpacks: [{
      id: 'example/node', version: '1.0.0', homepage: 'https://example.test/node', store: { runs: 1 },
      layers: [
        { name: 'runtime', dir: dir('runtime'), hasDir: options.withRuntimeDir ?? true, types: { launch: true, build: false, cache: false }, metadata: { version: '20.1.0' } },
        { name: 'deps', dir: dir('deps'), hasDir: true, types: { launch: true, build: false, cache: true }, metadata: { lock: 'abc' } },
        { name: 'tools', dir: dir('tools'), hasDir: true, types: { launch: false, build: true, cache: true }, metadata: {} },
      ],
    }],
    processes: [
      { type: 'web', command: ['node'], args: ['server.js'], default: true, buildpackId: 'example/node' },
      { type: 'worker', command: ['node'], args: ['worker.js'], default: false, buildpackId: 'example/node', workingDir: '/workspace/static' },
    ],
    defaultType: 'web',
    labels: [{ key: 'org.example.team', value: 'web' }],
    slices: [{ paths: ['static'] }],
    sboms: [{ buildpackId: 'example/node', file: { path: join(root, 'layers/sbom/launch/example_node/runtime/sbom.cdx.json'), layer: 'runtime', scope: 'launch', mediaType: 'application/vnd.cyclonedx+json', ext: 'cdx.json' } }],
  };
  return { root, build };
}

async function runImageIn(dir: string, image: Image): Promise<ContentSource> {
  const sink = await openLayoutSink({ transport: 'oci', path: dir, tag: 'run' });
  await writeImage(sink, image);
  await sink.commit();
  return openLayoutSource({ transport: 'oci', path: dir, tag: 'run' });
}

let runImage: Image;
beforeAll(async () => {
  runImage = await randomImage({ files: { 'bin/sh': '#!shell' }, labels: { 'io.buildpacks.base.distro.name': 'debian', 'io.buildpacks.base.distro.version': '12', 'io.buildpacks.base.id': 'test.stack' } });
});

async function exportTo(root: string, build: BuildResult, out: string, extra: Partial<ExportInput> = {}, previous?: ContentSource) {
  const analyzed = await analyze({ runImage: { source: await runImageIn(join(root, 'run'), runImage), image: 'registry.example/run:latest' }, ...(previous ? { previousImage: previous } : {}) });
  const sink = extra.sink ?? (await openLayoutSink({ transport: 'oci', path: out, tag: 'app' }));
  return exportImage({ build, analyzed, appDir: join(root, 'app'), sink, tags: ['app'], ...extra });
}

describe('platform.md "exporter" into an OCI layout', () => {
  it('writes run image + launch layers in buildpack order + SBOM + slices + app + process scripts, owned by the stack user', async () => {
    const { root, build } = await buildFixture();
    const out = await trees.create();
    const warnings: string[] = [];
    const result = await exportTo(root, build, out, { onWarning: (w) => warnings.push(w) });
    const image = await imageFromSource(await openLayoutSource({ transport: 'oci', path: out, tag: 'app' }), { ...result.image.descriptor });
    await validateImage(image);
    expect(image.descriptor.digest).toBe(result.digest);
    expect(image.layers.slice(0, 2).map((l) => l.diffId)).toEqual(runImage.layers.map((l) => l.diffId));
    expect(result.layers.map((l) => l.name)).toEqual(['example/node:deps', 'example/node:runtime', 'sbom', 'slice-1', 'app', 'process-types']);
    const [deps, runtime, sbom, slice, app, scripts] = await Promise.all(image.layers.slice(2).map(entriesOf));
    expect(runtime!.map((e) => e.name)).toEqual([
      'layers/', 'layers/example_node/', 'layers/example_node/runtime/', 'layers/example_node/runtime/bin/', 'layers/example_node/runtime/bin/node',
      'layers/example_node/runtime/env.launch/', 'layers/example_node/runtime/env.launch/NODE_ENV', 'layers/example_node/runtime/env.launch/worker/',
      'layers/example_node/runtime/env.launch/worker/MODE.override',
    ]);
    expect(new Set(runtime!.map((e) => `${e.uid}:${e.gid}`))).toEqual(new Set(['1000:1000']));
    expect(runtime!.find((e) => e.name.endsWith('bin/node'))!.mode).toBe(0o755);
    expect(deps!.map((e) => e.name)).toContain('layers/example_node/deps/node_modules/x/index.js');
    expect(sbom!.filter((e) => e.type === 'file').map((e) => e.name)).toEqual(['layers/sbom/launch/example_node/runtime/sbom.cdx.json']);
    expect(slice!.filter((e) => e.type === 'file').map((e) => e.name)).toEqual(['workspace/static/a.css']);
    expect(app!.filter((e) => e.type === 'file').map((e) => e.name)).toEqual(['workspace/server.js']);
    expect(app!.every((e) => e.uid === 1000 && e.gid === 1000)).toBe(true);
    const web = scripts!.find((e) => e.name === 'cnb/process/web')!;
    expect(web).toMatchObject({ uid: 0, gid: 0, mode: 0o755 });
    expect(web.body).toContain('exec node server.js');
    expect(scripts!.find((e) => e.name === 'cnb/process/worker')!.body).toMatch(/export MODE=background[\s\S]*cd \/workspace\/static[\s\S]*exec node worker.js/);
    expect(warnings).toEqual([]);
  });

  it('resolves Entrypoint, Cmd, Env, WorkingDir and User without a launcher (design §7)', async () => {
    const { root, build } = await buildFixture();
    const { image } = await exportTo(root, build, await trees.create());
    const c = image.config.config!;
    expect(c.Entrypoint).toEqual(['node']);
    expect(c.Cmd).toEqual(['server.js']);
    expect(c.WorkingDir).toBe('/workspace');
    expect(c.User).toBe('1000:1000');
    expect(c.Env).toContain('PATH=/layers/example_node/runtime/bin:/cnb/process:/usr/local/bin:/usr/bin:/bin');
    expect(c.Env).toContain('NODE_ENV=production');
    expect(c.Env).toContain('CNB_APP_DIR=/workspace');
    expect(c.Env!.some((e) => e.startsWith('MODE='))).toBe(false);
    expect(image.config.created).toBe('1980-01-01T00:00:01Z');
    expect(image.config.history!.slice(2).map((h) => h.created_by)).toEqual([
      "Layer: 'deps', Created by buildpack: example/node@1.0.0", "Layer: 'runtime', Created by buildpack: example/node@1.0.0",
      'Software Bill-of-Materials', 'Application Slice: 1', 'Application Layer', 'Buildpacks Process Types',
    ]);
  });

  it('writes labels that parse back with the Go key shapes, keeps run image labels, and report.toml', async () => {
    const { root, build } = await buildFixture();
    const result = await exportTo(root, build, await trees.create());
    const labels = result.image.config.config!.Labels!;
    const lc = parseLifecycleMetadata(labels[LIFECYCLE_METADATA_LABEL]!);
    expect(lc.runImage).toEqual({ topLayer: runImage.layers[1]!.diffId, reference: `registry.example/run:latest@${runImage.descriptor.digest}`, image: 'registry.example/run:latest' });
    expect(lc.buildpacks[0]!.layers['runtime']).toEqual({ sha: result.layers[1]!.diffId, data: { version: '20.1.0' }, build: false, launch: true, cache: false });
    expect(Object.keys(lc.buildpacks[0]!.layers)).toEqual(['deps', 'runtime']);
    expect(lc.buildpacks[0]!.store).toEqual({ metadata: { runs: 1 } });
    expect(lc.sbom).toEqual({ sha: result.layers[2]!.diffId });
    expect(lc.app.map((a) => a.sha)).toEqual([result.layers[3]!.diffId, result.layers[4]!.diffId]);
    expect(lc.processTypes.sha).toBe(result.layers[5]!.diffId);
    const bm = parseBuildMetadata(labels[BUILD_METADATA_LABEL]!);
    expect(bm.defaultProcessType).toBe('web');
    expect(bm.processes.map((p) => p.type)).toEqual(['web', 'worker']);
    expect(labels[PROJECT_METADATA_LABEL]).toBe('{}');
    expect(labels['io.buildpacks.rebasable']).toBe('true');
    expect(labels['io.buildpacks.base.distro.name']).toBe('debian');
    expect(labels['org.example.team']).toBe('web');
    expect(result.report).toContain(`digest = "${result.digest}"`);
    expect(result.report).toContain(`manifest-size = "${result.manifestSize}"`);
  });

  it('"Build Reproducibility": two exports from different directories and umasks give the same digest; SOURCE_DATE_EPOCH sets created', async () => {
    const a = await buildFixture();
    const old = process.umask(0o077);
    let b: Awaited<ReturnType<typeof buildFixture>>;
    try {
      b = await buildFixture();
    } finally {
      process.umask(old);
    }
    const ra = await exportTo(a.root, a.build, await trees.create());
    const rb = await exportTo(b.root, b.build, await trees.create());
    expect(rb.digest).toBe(ra.digest);
    const rc = await exportTo(b.root, b.build, await trees.create(), { created: '2024-01-02T03:04:05Z' });
    expect(rc.image.config.created).toBe('2024-01-02T03:04:05Z');
    expect(rc.digest).not.toBe(ra.digest);
  });

  it('"Build Reproducibility": created is SOURCE_DATE_EPOCH, else 1980-01-01T00:00:01Z, or now when asked', () => {
    expect(creationTime({})).toBe('1980-01-01T00:00:01Z');
    expect(creationTime({ SOURCE_DATE_EPOCH: '1700000000' })).toBe('2023-11-14T22:13:20Z');
    expect(creationTime({ SOURCE_DATE_EPOCH: 'soon' })).toBe('1980-01-01T00:00:01Z');
    expect(creationTime({}, 86400)).toBe('1970-01-02T00:00:00Z');
    expect(Date.parse(creationTime({}, 'now'))).toBeGreaterThan(Date.parse('2024-01-01T00:00:00Z'));
  });

  it('aborting during export leaves nothing tagged', async () => {
    const { root, build } = await buildFixture();
    const out = await trees.create();
    const controller = new AbortController();
    const inner = await openLayoutSink({ transport: 'oci', path: out, tag: 'app' });
    const sink: ContentSink = { ...inner, location: inner.location, hasBlob: (d) => inner.hasBlob(d), putManifest: (...a) => inner.putManifest(...a), commit: () => inner.commit(), abort: () => inner.abort(),
      putBlob: async (d, open, o) => { controller.abort(); return inner.putBlob(d, open, o); } };
    await expect(exportTo(root, build, out, { sink, signal: controller.signal })).rejects.toMatchObject({ code: 'INTERRUPTED' });
    await expect(openLayoutSource({ transport: 'oci', path: out, tag: 'app' }).then((s) => s.resolve())).rejects.toThrow();
  });

  it('a launch layer without a directory and no previous image is an EXPORT error', async () => {
    const { root, build } = await buildFixture({ withRuntimeDir: false });
    await expect(exportTo(root, build, await trees.create())).rejects.toMatchObject({ code: 'EXPORT', message: expect.stringContaining('example/node:runtime') });
  });
});

describe('layer content markers (docs/lifecycle.md "Layer content keys")', () => {
  const KEY = 'c'.repeat(64);
  /** The fixture with a 17 MiB runtime layer (the blob cache keeps blobs of 16 MiB or more), sealed under `key`. */
  async function sealedFixture(nodeText: string, key = KEY) {
    const f = await buildFixture();
    const runtime = join(f.root, 'layers/example_node/runtime');
    await writeFile(join(runtime, 'bin/node'), nodeText);
    await writeFile(join(runtime, 'big'), '');
    await truncate(join(runtime, 'big'), 17 << 20);
    await writeFile(`${runtime}.lading-content.json`, JSON.stringify({ version: 1, key, state: await treeState(runtime) }));
    return { ...f, runtime };
  }
  const runtimeLayer = (r: Awaited<ReturnType<typeof exportTo>>) => r.layers.find((l) => l.name === 'example/node:runtime')!;

  it('takes a sealed layer seen before from the blob cache by its remembered diffID, without reading the directory', async () => {
    const stores = await trees.create();
    const dirs = { layerDigestsDir: join(stores, 'digests'), blobCacheDir: join(stores, 'blobs') };
    const first = await sealedFixture('#!/bin/sh\necho node');
    const a = runtimeLayer(await exportTo(first.root, first.build, await trees.create(), dirs));
    expect(await readdir(dirs.layerDigestsDir)).toHaveLength(1);

    // Same key and shape, other bytes (a buildpack that lied): the remembered layer is used, which proves
    // the directory was not packed. The key is the buildpack's word; only trusted buildpacks get a memo.
    const second = await sealedFixture('#!/bin/sh\necho nodf');
    expect(runtimeLayer(await exportTo(second.root, second.build, await trees.create(), dirs)).diffId).toBe(a.diffId);
    // Without a memo dir the marker means nothing: the directory is packed.
    const plain = runtimeLayer(await exportTo(second.root, second.build, await trees.create(), { blobCacheDir: dirs.blobCacheDir }));
    expect(plain.diffId).not.toBe(a.diffId);
  });

  it('packs a sealed layer changed after sealing, or of another shape, or under another key, and a malformed marker is ignored', async () => {
    const stores = await trees.create();
    const dirs = { layerDigestsDir: join(stores, 'digests'), blobCacheDir: join(stores, 'blobs') };
    const first = await sealedFixture('#!/bin/sh\necho node');
    const a = runtimeLayer(await exportTo(first.root, first.build, await trees.create(), dirs));

    const changed = await sealedFixture('#!/bin/sh\necho nodf');
    // Same size, so the same shape: only the tree state tells the change.
    await writeFile(join(changed.runtime, 'bin/node'), '#!/bin/sh\necho nodg');
    const c = runtimeLayer(await exportTo(changed.root, changed.build, await trees.create(), dirs));
    expect(c.diffId).not.toBe(a.diffId);

    const longer = await sealedFixture('#!/bin/sh\necho nodes');
    expect(runtimeLayer(await exportTo(longer.root, longer.build, await trees.create(), dirs)).diffId).not.toBe(a.diffId);

    const otherKey = await sealedFixture('#!/bin/sh\necho nodf', 'd'.repeat(64));
    expect(runtimeLayer(await exportTo(otherKey.root, otherKey.build, await trees.create(), dirs)).diffId).not.toBe(a.diffId);

    const broken = await sealedFixture('#!/bin/sh\necho nodf');
    await writeFile(`${broken.runtime}.lading-content.json`, '{"version":1,"key":"../../etc"}');
    expect(runtimeLayer(await exportTo(broken.root, broken.build, await trees.create(), dirs)).diffId).not.toBe(a.diffId);
  });
});

describe.skipIf(!requireTools('docker-registry', 'htpasswd', 'openssl'))('buildpack.md "Layer Types": rebuild against the real registry', () => {
  let reg: TestRegistry;
  beforeAll(async () => { reg = await startRegistry(); }, 60_000);
  afterAll(() => reg?.stop());
  const FAST = { retries: 2, minDelayMs: 5, maxDelayMs: 20 };

  it('reuses launch layers of the previous image by diffID (uploaded = 0 when nothing changed), restores their metadata, and the cache', async () => {
    const ref = parseRegistryReference(`${reg.host}/apps/web:latest`);
    const { root, build } = await buildFixture();
    const cacheDir = await trees.create();
    const first = await exportTo(root, build, '', { sink: await openRegistrySink(ref, { retry: FAST }), cache: new DirCache(cacheDir) });
    expect(first.uploaded).toBeGreaterThan(0);
    expect(first.cache).toEqual({ written: 2, reused: 0 });

    // analyze + restore for the rebuild, in a fresh layers dir
    const previous = await openRegistrySource(ref, { retry: FAST });
    const analyzed = await analyze({ previousImage: previous, runImage: { source: await runImageIn(join(root, 'run2'), runImage), image: 'registry.example/run:latest' } });
    expect(analyzed.previousImage!.digest).toBe(first.digest);
    const layersDir = await trees.create();
    const restored = await restore({ layersDir, group: [{ id: 'example/node' }], analyzed, cache: new DirCache(cacheDir) });
    expect(restored.layers.map((l) => `${l.name}:${l.restored}`)).toEqual(['deps:contents', 'runtime:metadata', 'tools:contents']);

    // rebuild: runtime kept by the buildpack without its directory → reused from the previous image
    const again = await buildFixture({ withRuntimeDir: false });
    const second = await exportTo(again.root, again.build, '', { sink: await openRegistrySink(ref, { retry: FAST }), cache: new DirCache(cacheDir) }, await openRegistrySource(ref, { retry: FAST }));
    expect(second.digest).toBe(first.digest);
    expect(second.uploaded).toBe(0);
    expect(second.layers.every((l) => l.reused)).toBe(true);
    expect(second.cache).toEqual({ written: 0, reused: 2 });

    // one app file changes: only the app layer and config go up
    const changed = await buildFixture({ appText: 'console.log("changed")' });
    const third = await exportTo(changed.root, changed.build, '', { sink: await openRegistrySink(ref, { retry: FAST }) });
    expect(third.layers.filter((l) => !l.reused).map((l) => l.name)).toEqual(['app']);
    expect(third.uploaded).toBe(2);
  }, 120_000);

  it('cache layers the restore unpacked and the build left untouched are kept by diffID, not packed again; a changed one is packed', async () => {
    const ref = parseRegistryReference(`${reg.host}/apps/kept:latest`);
    const { root, build } = await buildFixture();
    const cacheDir = await trees.create();
    const first = await exportTo(root, build, '', { sink: await openRegistrySink(ref, { retry: FAST }), cache: new DirCache(cacheDir) });
    const cachedSha = async (name: string) => (await new DirCache(cacheDir).read()).buildpacks[0]!.layers[name]!.sha;
    const toolsSha = await cachedSha('tools');

    // The rebuild's build phase works on the directories the restore filled (same cache object for both phases).
    const rebuild = async (options: { uid?: number; change?: (layersDir: string) => Promise<void> } = {}) => {
      const cache = new DirCache(cacheDir);
      const analyzed = await analyze({ previousImage: await openRegistrySource(ref, { retry: FAST }), runImage: { source: await runImageIn(await trees.create(), runImage), image: 'registry.example/run:latest' } });
      const layersDir = await trees.create();
      await restore({ layersDir, group: [{ id: 'example/node' }], analyzed, cache });
      await options.change?.(join(layersDir, 'example_node'));
      const fixture = await buildFixture({ withRuntimeDir: false });
      const bp = fixture.build.buildpacks[0]!;
      const layers = bp.layers.map((l) => (l.types.cache ? { ...l, dir: join(layersDir, 'example_node', l.name) } : l));
      return exportImage({
        build: { ...fixture.build, buildpacks: [{ ...bp, layers }] }, analyzed, appDir: join(fixture.root, 'app'),
        sink: await openRegistrySink(ref, { retry: FAST }), tags: ['latest'], cache, ...(options.uid ? { uid: options.uid, gid: options.uid } : {}),
      });
    };

    const second = await rebuild();
    expect(second.digest).toBe(first.digest);
    expect(second.uploaded).toBe(0);
    expect(second.cache).toEqual({ written: 0, reused: 2 });
    expect(await cachedSha('tools')).toBe(toolsSha);

    // Other owners: the image's deps layer is packed again (the previous one has uid 1000); the cache-only
    // tools entry is kept as it is (owners are not restored), which shows it was not packed again.
    const owners = await rebuild({ uid: 2000 });
    const deps = (r: typeof first) => r.layers.find((l) => l.name === 'example/node:deps')!;
    expect(deps(owners).diffId).not.toBe(deps(first).diffId);
    expect(deps(owners).reused).toBe(false);
    expect(await cachedSha('tools')).toBe(toolsSha);

    // A build that touches a restored cache layer gets it packed again.
    const changed = await rebuild({ uid: 2000, change: (d) => writeFile(join(d, 'tools', 'cached.txt'), 'tool v2') });
    expect(changed.cache!.written).toBe(1);
    expect(await cachedSha('tools')).not.toBe(toolsSha);
  }, 120_000);
});
