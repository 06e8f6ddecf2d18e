import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runBase, type RunBase } from '../support/run-base.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'test/fixtures/apps/hello');
const BUILDER = join(ROOT, 'test/fixtures/builders/sample');

interface BuildJson {
  image: string;
  digest: string;
  layers: { name: string; diffId: string; digest: string; size: number; reused: boolean }[];
  uploaded: number;
  durations: Record<string, number>;
}

/** Runs the image's process (or `args`) once under runc and returns what it printed, up to `until`. */
async function runOnce(layout: string, tag: string, until: string, args?: string[]): Promise<{ output: string; config: Awaited<ReturnType<typeof runImage>>['config'] }> {
  const c = await runImage(layout, tag, args ? { args } : {});
  try {
    for (let i = 0; i < 100 && !c.logs().includes(until); i++) await new Promise((r) => setTimeout(r, 100));
    return { output: c.logs(), config: c.config };
  } finally {
    await c.stop();
  }
}

describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb'))('lading build (issue 3 acceptance)', () => {
  let registry: TestRegistry;
  let base: RunBase;
  let home: string;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const env = () => ({ LADING_HOME: home, SOURCE_DATE_EPOCH: undefined });

  beforeAll(async () => {
    [registry, base] = await Promise.all([startRegistry(), runBase()]);
    home = temp('lading-build-home-');
    // The builder's [run] image is a store name: put the run base there under it.
    const copied = await lading(['copy', base.reference, 'lading-test/run-base:latest'], env());
    expect(copied.code, copied.stderr).toBe(0);
  });
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('builds with a builder.toml dir (order with a composite, [run] image, [[build.env]]) to the registry with --publish and runs under runc', async () => {
    const ref = `${registry.host}/sample/hello:v1`;
    const r = await lading(['build', ref, '-p', APP, '-B', BUILDER, '--publish', '-e', 'BP_USER=yes'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('===> DETECT');
    // Buildpack output streamed; detect output only on error or --verbose.
    expect(r.stderr).toContain('hello: building in /workspace; BP_GREETING=hello from the builder; BP_FLAGS=-builder');
    expect(r.stderr).not.toContain('hello: looking for hello.txt');
    const digest = /Built \S+@(sha256:[0-9a-f]{64})/.exec(r.stdout)?.[1];
    expect(digest).toMatch(/^sha256:/);

    const layout = temp('lading-build-pulled-');
    const pulled = await lading(['copy', `docker://${ref}`, `oci:${layout}:app`], env());
    expect(pulled.code, pulled.stderr).toBe(0);
    const { output, config } = await runOnce(layout, 'app', 'hello-done');
    // The default process is an absolute /layers/... command written by the buildpack: it exists and runs.
    expect(output).toContain('hello-process uid=1000 gid=1000 pwd=/workspace');
    expect(output).toContain('HELLO_MODE=launched');
    expect(output).toContain('RUNTIME_ENV=production');
    expect(output).toContain('greeting=hi from the app');
    expect(output).toContain('args=from-launch-toml');
    expect(config.process.user).toMatchObject({ uid: 1000, gid: 1000 });
    expect(config.process.cwd).toBe('/workspace');
    expect(config.process.args[0]).toBe('/layers/sample_hello/hello/bin/hello');
    expect(config.process.env).toContain('HELLO_MODE=launched');
    // Processes of the composite's buildpacks run through their /cnb/process scripts (PATH from layer bin/).
    const web = await runOnce(layout, 'app', 'runtime serve', ['/cnb/process/web']);
    expect(web.output).toContain('runtime serve --port 8080');
    const greet = await runOnce(layout, 'app', 'hello-done', ['/cnb/process/greet']);
    expect(greet.output).toContain('args=via-path');

    const inspected = await lading(['inspect', `docker://${ref}`, '--json'], env());
    expect(inspected.json<{ digest: string }>().digest).toBe(digest);
  });

  it('builds into an oci: layout with -b directories and --run-image; excluded files stay out; -D picks the process', async () => {
    const layout = temp('lading-build-oci-');
    const reports = temp('lading-build-report-');
    const r = await lading([
      'build', `oci:${layout}:app`, '-p', APP, '--run-image', base.reference,
      '-b', join(ROOT, 'test/fixtures/buildpacks/bash/provider'), '-b', join(ROOT, 'test/fixtures/buildpacks/bash/consumer'),
      '-b', join(BUILDER, 'buildpacks/hello'), '-D', 'web', '--report-output-dir', reports, '--sbom-output-dir', join(reports, 'sbom'),
    ], env());
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(reports, 'report.toml'), 'utf8')).toMatch(/digest = "sha256:[0-9a-f]{64}"/);
    expect(readFileSync(join(reports, 'sbom/launch/fixtures_provider/runtime/sbom.cdx.json'), 'utf8')).toContain('CycloneDX');
    const { output, config } = await runOnce(layout, 'app', 'runtime serve');
    expect(output).toContain('runtime serve --port 8080');
    expect(config.process.user.uid).toBe(1000);
    const ls = await runOnce(layout, 'app', 'END', ['/bin/sh', '-c', 'ls /workspace; echo END']);
    expect(ls.output).toContain('hello.txt');
    expect(ls.output).not.toContain('docs');
  });

  it('is reproducible: two dirs, two times, two umasks give one digest (registry and OCI layout)', async () => {
    const a = temp('lading-repro-a-');
    const b = temp('lading-repro-b-');
    const build = async (appCopy: string, umask: number, dest: string) => {
      const old = process.umask(umask);
      try {
        cpSync(APP, appCopy, { recursive: true });
        const r = await lading(['build', dest, '-p', appCopy, '-B', BUILDER, '--json', ...(dest.startsWith('oci:') ? [] : ['--publish'])], env());
        expect(r.code, r.stderr).toBe(0);
        return r.json<BuildJson>().digest;
      } finally {
        process.umask(old);
      }
    };
    const first = await build(join(a, 'app'), 0o022, `oci:${join(a, 'out')}:app`);
    const firstPushed = await build(join(a, 'app2'), 0o022, `${registry.host}/repro/a:1`);
    await new Promise((r) => setTimeout(r, 1100));
    utimesSync(join(b), new Date(), new Date());
    const second = await build(join(b, 'app'), 0o077, `oci:${join(b, 'out')}:app`);
    const secondPushed = await build(join(b, 'app2'), 0o002, `${registry.host}/repro/b:1`);
    expect(second).toBe(first);
    expect(firstPushed).toBe(first);
    expect(secondPushed).toBe(first);
  });

  it('--json prints one object: image, digest, layers (name, diffId, digest, size, reused), uploaded, durations', async () => {
    const layout = temp('lading-build-json-');
    const r = await lading(['build', `oci:${layout}:app`, '-p', APP, '-B', BUILDER, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<BuildJson>();
    // design §11's fields, plus the run image chosen and the SBOM referrers (additive; `signatures` when signing).
    expect(Object.keys(out).sort()).toEqual(['digest', 'durations', 'image', 'layers', 'runImage', 'sbom', 'uploaded']);
    expect(out.image).toBe(`oci:${layout}:app`);
    expect(out.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.layers.map((l) => l.name)).toEqual(['fixtures/provider:runtime', 'sample/hello:hello', 'sbom', 'app', 'process-types']);
    for (const l of out.layers) {
      expect(Object.keys(l).sort()).toEqual(['diffId', 'digest', 'name', 'reused', 'size']);
      expect(l.diffId).toMatch(/^sha256:/);
      expect(l.size).toBeGreaterThan(0);
    }
    expect(out.uploaded).toBeGreaterThan(0);
    expect(Object.keys(out.durations)).toEqual(['analyze', 'detect', 'restore', 'build', 'export']);
    for (const s of Object.values(out.durations)) expect(typeof s).toBe('number');
  });

  it('--workspace/--layers-dir build without a namespace: those paths are in the image, and emptied afterwards', async () => {
    const work = temp('lading-build-flags-');
    const ws = join(work, 'ws');
    const layers = join(work, 'layers');
    const r = await lading(['build', `oci:${join(work, 'out')}:app`, '-p', APP, '-B', BUILDER, '--workspace', ws, '--layers-dir', layers], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`hello: building in ${ws};`);
    const inspected = await lading(['inspect', `oci:${join(work, 'out')}:app`, '--json'], env());
    expect(inspected.stdout).toContain(`${layers}/sample_hello/hello/bin/hello`);
    expect(existsSync(ws) || existsSync(layers)).toBe(false);
    const half = await lading(['build', `oci:${join(work, 'out2')}:app`, '-p', APP, '-B', BUILDER, '--workspace', ws], env());
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--workspace and --layers-dir go together');
  });

  it('without --publish the image goes to the local store under its name', async () => {
    const r = await lading(['build', 'sample/stored:1', '-p', APP, '-B', BUILDER, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const images = await lading(['images', '--json'], env());
    expect(images.stdout).toContain('sample/stored:1');
    expect(images.stdout).toContain(r.json<BuildJson>().digest);
  });
});
