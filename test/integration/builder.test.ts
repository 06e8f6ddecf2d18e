import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeImage } from '../../registry/image/index.js';
import { openLayoutSink } from '../../registry/layout/index.js';
import { emptyImage, withConfig } from '../../registry/mutate/index.js';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';
import { nodeRunImage } from './node-stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIXTURES = join(ROOT, 'test/fixtures');
const IMAGE_BUILDER = join(FIXTURES, 'builders/image/builder.toml');
const BASH = join(FIXTURES, 'buildpacks/bash');
const SAMPLE_BPS = join(FIXTURES, 'builders/sample/buildpacks');

interface CreateJson {
  digest: string;
  buildpacks: { id: string; version: string; diffId: string }[];
  node: boolean;
}
interface PackageJson {
  digest: string;
  id: string;
  buildpacks: { id: string; version: string; diffId: string }[];
}

/**
 * Issue 10 acceptance: builder images from pack's builder.toml on the real registry, used by `lading build -B`,
 * the app run under runc; buildpackages (.cnb and image) round-trip with the same diffIDs; reproducible
 * builder digests; bad builder.toml inputs fail clearly and write nothing.
 */
describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb', 'skopeo'))('builder images (issue 10)', () => {
  let registry: TestRegistry;
  let home: string;
  let cache: string;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => lading(args, { LADING_HOME: home, SOURCE_DATE_EPOCH: undefined, ...env });
  /** A builder.toml in a fresh dir, over the test store's bookworm build and run images. */
  const builderToml = (body: string, buildImage = 'lading-test/bookworm/build:latest', runImage = 'lading-test/bookworm/run-base:latest') => {
    const dir = temp('lading-builder-toml-');
    writeFileSync(join(dir, 'builder.toml'), `${body}\n[build]\nimage = "${buildImage}"\n\n[run]\n[[run.images]]\nimage = "${runImage}"\n`);
    return join(dir, 'builder.toml');
  };

  beforeAll(async () => {
    const [reg, runBase] = await Promise.all([startRegistry(), nodeRunImage()]);
    registry = reg;
    home = temp('lading-builder-home-');
    cache = temp('lading-builder-cache-');
    const layout = runBase.replace(/^oci:/, '').replace(/:run-base$/, '');
    // The bookworm stack's images under the names the fixture builder.toml uses.
    for (const image of ['build', 'run-base', 'run-static']) {
      const r = await run(['copy', `oci:${layout}:${image}`, `lading-test/bookworm/${image}:latest`]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 600_000);
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('creates a builder from builder.toml (Go, Node.js and a bash buildpack), pushes it, builds an app with -B and runs it', async () => {
    const ref = `${registry.host}/builders/test:1`;
    const created = await run(['builder', 'create', ref, '--config', IMAGE_BUILDER, '--publish', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const c = created.json<CreateJson>();
    expect(c.buildpacks.map((b) => b.id)).toEqual(['fixtures/builder-marker', 'lading/go', 'lading/nodejs']);
    expect(c.node).toBe(true);

    // An independent reader sees pack's layout and labels.
    const { execFileSync } = await import('node:child_process');
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--config', `docker://${ref}`], { encoding: 'utf8' }));
    const labels = config.config.Labels as Record<string, string>;
    const layers = JSON.parse(labels['io.buildpacks.buildpack.layers']!);
    expect(Object.keys(layers).sort()).toEqual(['fixtures/builder-marker', 'lading/go', 'lading/nodejs']);
    expect(config.rootfs.diff_ids).toEqual(expect.arrayContaining(c.buildpacks.map((b) => b.diffId)));
    expect(layers['lading/go']['0.1.0'].layerDiffID).toBe(c.buildpacks.find((b) => b.id === 'lading/go')!.diffId);
    expect(JSON.parse(labels['io.buildpacks.buildpack.order']!)).toEqual([
      { group: [{ id: 'lading/nodejs', version: '0.1.0' }, { id: 'fixtures/builder-marker', version: '1.0.0', optional: true }] },
      { group: [{ id: 'lading/go', version: '0.1.0' }, { id: 'fixtures/builder-marker', version: '1.0.0', optional: true }] },
    ]);
    const meta = JSON.parse(labels['io.buildpacks.builder.metadata']!);
    expect(meta.images.map((i: { image: string }) => i.image)).toEqual(['lading-test/bookworm/run-base:latest', 'lading-test/bookworm/run-static:latest']);
    expect(meta.stack.runImage.image).toBe('lading-test/bookworm/run-base:latest');
    expect(meta.createdBy.name).toBe('lading');
    expect(config.config.Env).toEqual(expect.arrayContaining(['CNB_USER_ID=1000', 'CNB_GROUP_ID=1000']));

    const inspected = await run(['builder', 'inspect', ref, '--json']);
    expect(inspected.code, inspected.stderr).toBe(0);
    const info = inspected.json<{ digest: string; order: unknown[]; buildEnv: { name: string; value: string }[]; user: { uid: number } }>();
    expect(info.digest).toBe(c.digest);
    expect(info.order).toHaveLength(2);
    expect(info.buildEnv).toEqual([{ name: 'BP_MARKER_GREETING', action: 'default', value: 'hello from the builder image' }]);
    expect(info.user.uid).toBe(1000);

    const app = join(temp('lading-builder-app-'), 'go-http');
    cpSync(join(FIXTURES, 'apps/go-http'), app, { recursive: true });
    const appRef = `${registry.host}/apps/go-http:1`;
    const built = await run(['build', appRef, '-p', app, '-B', ref, '--trust-builder', '--publish', '--cache-dir', cache, '-e', 'GOPROXY=off', '--json']);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain('builder-marker: greeting=hello from the builder image');
    expect(built.stderr).toMatch(/Run image: lading-test\/bookworm\/run-static:latest \(static/);
    const layerNames = built.json<{ layers: { name: string }[] }>().layers.map((l) => l.name);
    expect(layerNames.some((n) => n.includes('builder-marker') && n.includes('marker'))).toBe(true);

    const layout = temp('lading-builder-pulled-');
    expect((await run(['copy', `docker://${appRef}`, `oci:${layout}:app`])).code).toBe(0);
    const container = await runImage(layout, 'app');
    try {
      const answer = await container.fetch('/');
      expect(answer).toContain('hello from go-http');
      expect(answer).toContain('uid=1000 gid=1000 cwd=/workspace');
    } finally {
      await container.stop();
    }
  }, 900_000);

  it('is reproducible: the same builder.toml and inputs give the same digest, from two copies in different places', async () => {
    // Snapshots of the builder.toml and the buildpacks it names (other work may change the tree meanwhile).
    const copy = () => {
      const dir = temp('lading-builder-copy-');
      for (const p of ['test/fixtures/builders/image', 'test/fixtures/buildpacks/bash/builder-marker', 'buildpacks/go', 'buildpacks/node']) {
        cpSync(join(ROOT, p), join(dir, p), { recursive: true, filter: (src) => !src.includes('node_modules') });
      }
      return join(dir, 'test/fixtures/builders/image/builder.toml');
    };
    const first = copy();
    const second = temp('lading-builder-copy-');
    cpSync(resolve(first, '../../../../..'), second, { recursive: true });
    const digests: string[] = [];
    for (const config of [first, join(second, 'test/fixtures/builders/image/builder.toml')]) {
      const r = await run(['builder', 'create', `oci:${temp('lading-builder-again-')}:builder`, '--config', config, '--json']);
      expect(r.code, r.stderr).toBe(0);
      digests.push(r.json<CreateJson>().digest);
    }
    expect(digests[1]).toBe(digests[0]);
  }, 300_000);

  it('buildpackages round-trip: package as .cnb and as an image, builder create from each gives the diffIDs of the directory', async () => {
    const work = temp('lading-bp-package-');
    // A composite with its two components as [[dependencies]] (pack's package.toml), plus a component.
    writeFileSync(join(work, 'package.toml'), `[buildpack]\nuri = "${join(SAMPLE_BPS, 'family')}"\n\n[[dependencies]]\nuri = "${join(BASH, 'provider')}"\n\n[[dependencies]]\nuri = "${join(BASH, 'consumer')}"\n`);
    const cnb = join(work, 'family.cnb');
    const asFile = await run(['buildpack', 'package', cnb, '--config', join(work, 'package.toml'), '--format', 'file', '--json']);
    expect(asFile.code, asFile.stderr).toBe(0);
    const imageRef = `${registry.host}/buildpacks/family:1`;
    const asImage = await run(['buildpack', 'package', imageRef, '--config', join(work, 'package.toml'), '--publish', '--json']);
    expect(asImage.code, asImage.stderr).toBe(0);
    const f = asFile.json<PackageJson>();
    const i = asImage.json<PackageJson>();
    expect(f.id).toBe('sample/family');
    expect(i.digest).toBe(f.digest);
    expect(f.buildpacks.map((b) => b.id)).toEqual(['fixtures/consumer', 'fixtures/provider', 'sample/family']);

    // The .cnb is an OCI layout tar that skopeo reads, with the distribution spec's labels.
    const { execFileSync } = await import('node:child_process');
    const cnbConfig = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci-archive:${cnb}`], { encoding: 'utf8' }));
    expect(JSON.parse(cnbConfig.config.Labels['io.buildpacks.buildpackage.metadata'])).toEqual({ id: 'sample/family', version: '1.0.0', stacks: [{ id: '*' }] });
    expect(Object.keys(JSON.parse(cnbConfig.config.Labels['io.buildpacks.buildpack.layers']))).toEqual(['fixtures/consumer', 'fixtures/provider', 'sample/family']);
    expect(cnbConfig.rootfs.diff_ids).toHaveLength(3);

    const order = '[[order]]\n[[order.group]]\nid = "sample/family"\n';
    const fromDirs = builderToml(`[[buildpacks]]\nuri = "${join(SAMPLE_BPS, 'family')}"\n[[buildpacks]]\nuri = "${join(BASH, 'provider')}"\n[[buildpacks]]\nuri = "${join(BASH, 'consumer')}"\n${order}`);
    const fromCnb = builderToml(`[[buildpacks]]\nuri = "${cnb}"\n${order}`);
    const fromImage = builderToml(`[[buildpacks]]\nimage = "${imageRef}"\n${order}`);
    const results: CreateJson[] = [];
    for (const config of [fromDirs, fromCnb, fromImage]) {
      const r = await run(['builder', 'create', `oci:${temp('lading-bp-builder-')}:b`, '--config', config, '--json']);
      expect(r.code, r.stderr).toBe(0);
      results.push(r.json<CreateJson>());
    }
    const diffIds = results.map((r) => r.buildpacks.map((b) => `${b.id}@${b.version}=${b.diffId}`));
    expect(diffIds[1]).toEqual(diffIds[0]);
    expect(diffIds[2]).toEqual(diffIds[0]);
    expect(diffIds[0]).toEqual(f.buildpacks.map((b) => `${b.id}@${b.version}=${b.diffId}`));
    // Same layers, same config: one digest whichever way the buildpacks came.
    expect(new Set(results.map((r) => r.digest)).size).toBe(1);
    expect(results[0]!.node).toBe(false);
  }, 300_000);

  it('a composite whose components are missing from the package is an error naming them', async () => {
    const r = await run(['buildpack', 'package', join(temp('lading-bp-bad-'), 'x.cnb'), '--path', join(SAMPLE_BPS, 'family'), '--format', 'file']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/composite sample\/family@1\.0\.0 order\[0\]\.group\[0\] needs fixtures\/provider@1\.0\.0, which the package does not have/);
  });

  describe('bad builder.toml inputs fail with the file and problem, and write nothing', () => {
    const attempt = async (config: string) => {
      const dir = temp('lading-bad-builder-');
      const r = await run(['builder', 'create', `oci:${dir}:b`, '--config', config]);
      return { ...r, wrote: existsSync(join(dir, 'index.json')) && readFileSync(join(dir, 'index.json'), 'utf8').includes('"b"') };
    };
    const marker = `[[buildpacks]]\nuri = "${join(BASH, 'builder-marker')}"\n`;

    it('a [[buildpacks]] id/version no entry provides (NOT_FOUND, exit 4)', async () => {
      const r = await attempt(builderToml(`${marker}[[buildpacks]]\nid = "fixtures/builder-marker"\nversion = "9.9.9"\n[[order]]\n[[order.group]]\nid = "fixtures/builder-marker"\n`));
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/builder\.toml: buildpacks\[1\]: buildpack fixtures\/builder-marker@9\.9\.9 is not provided by any \[\[buildpacks\]\] entry \(versions there: 1\.0\.0\)/);
      expect(r.wrote).toBe(false);
    });

    it('an order naming an id no buildpack has (NOT_FOUND, exit 4)', async () => {
      const r = await attempt(builderToml(`${marker}[[order]]\n[[order.group]]\nid = "fixtures/builder-marker"\n[[order]]\n[[order.group]]\nid = "nobody/has-this"\n`));
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/builder\.toml: order\[1\]\.group\[0\]: no buildpack has id nobody\/has-this \(the builder has fixtures\/builder-marker\)/);
      expect(r.wrote).toBe(false);
    });

    it('buildpacks whose targets cannot run on the build image (CONTENT_INVALID, exit 5)', async () => {
      const bp = temp('lading-arm-bp-');
      cpSync(join(BASH, 'builder-marker'), bp, { recursive: true });
      writeFileSync(join(bp, 'buildpack.toml'), 'api = "0.12"\n\n[buildpack]\nid = "fixtures/arm-only"\nversion = "1.0.0"\n\n[[targets]]\nos = "linux"\narch = "arm64"\n[[targets.distros]]\nname = "alpine"\nversion = "3.20"\n');
      const r = await attempt(builderToml(`${marker}[[buildpacks]]\nuri = "${bp}"\n[[order]]\n[[order.group]]\nid = "fixtures/arm-only"\n`));
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/buildpack fixtures\/arm-only@1\.0\.0 \(.*\) runs on linux\/arm64 alpine 3\.20, but the build image lading-test\/bookworm\/build:latest is linux\/amd64 debian 12/);
      expect(r.wrote).toBe(false);
    });

    it('a build image without CNB_USER_ID (CONTENT_INVALID, exit 5)', async () => {
      const layout = temp('lading-no-user-');
      const sink = await openLayoutSink({ transport: 'oci', path: layout, tag: 'build' });
      await writeImage(sink, withConfig(emptyImage({ os: 'linux', architecture: 'amd64' }), { env: ['PATH=/usr/bin:/bin', 'CNB_GROUP_ID=1000'] }));
      await sink.commit();
      const r = await attempt(builderToml(`${marker}[[order]]\n[[order.group]]\nid = "fixtures/builder-marker"\n`, `oci:${layout}:build`));
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(`build image oci:${layout}:build has no CNB_USER_ID in its config Env`);
      expect(r.wrote).toBe(false);
    });

    it('a run image of another distro than the build image (CONTENT_INVALID, exit 5)', async () => {
      const layout = temp('lading-alpine-run-');
      const sink = await openLayoutSink({ transport: 'oci', path: layout, tag: 'run' });
      await writeImage(sink, withConfig(emptyImage({ os: 'linux', architecture: 'amd64' }), { labels: { 'io.buildpacks.base.distro.name': 'alpine', 'io.buildpacks.base.distro.version': '3.20' } }));
      await sink.commit();
      const r = await attempt(builderToml(`${marker}[[order]]\n[[order.group]]\nid = "fixtures/builder-marker"\n`, undefined, `oci:${layout}:run`));
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(`run image oci:${layout}:run is linux/amd64 alpine 3.20, but the build image lading-test/bookworm/build:latest is linux/amd64 debian 12`);
      expect(r.wrote).toBe(false);
    });

    it('-B with an image that is not a builder (CONTENT_INVALID, exit 5)', async () => {
      const app = temp('lading-not-builder-app-');
      writeFileSync(join(app, 'x'), '');
      const r = await run(['build', `oci:${temp('lading-nb-out-')}:app`, '-p', app, '-B', 'lading-test/bookworm/run-base:latest']);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/builder lading-test\/bookworm\/run-base:latest: not a builder image \(no io\.buildpacks\.builder\.metadata label\)/);
    });
  });
});
