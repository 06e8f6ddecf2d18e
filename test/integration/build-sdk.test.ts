import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { runBase, type RunBase } from '../support/run-base.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SDK = join(ROOT, 'test/fixtures/buildpacks/sdk');

/** Runs `args` in the image once under runc and returns what it printed. */
async function runOnce(layout: string, tag: string, args: string[], until: string): Promise<string> {
  const c = await runImage(layout, tag, { args });
  try {
    for (let i = 0; i < 100 && !c.logs().includes(until); i++) await new Promise((r) => setTimeout(r, 100));
    return c.logs();
  } finally {
    await c.stop();
  }
}

/** Buildpacks written with our TypeScript SDK (buildpacks/lib), run by our lifecycle: the two halves meet. */
describe.skipIf(!requireTools('umoci', 'runc', 'apt-get', 'dpkg-deb'))('lading build with SDK buildpacks (buildpack.md through buildpacks/lib)', () => {
  let base: RunBase;
  let tmp: string;
  let app: string;
  const env = () => ({ LADING_HOME: join(tmp, 'home') });
  const build = (out: string) =>
    lading([
      'build', `oci:${out}:app`, '-p', app,
      '-b', join(SDK, 'greeter'), '-b', join(SDK, 'cacher'), '-b', join(SDK, 'sbom-writer'),
      '--run-image', base.reference, '--cache-dir', join(tmp, 'cache'), '--sbom-output-dir', join(tmp, 'sboms'), '--json',
    ], env());

  beforeAll(async () => {
    base = await runBase();
    tmp = mkdtempSync(join(tmpdir(), 'lading-build-sdk-'));
    app = join(tmp, 'app');
    mkdirSync(join(app, 'static'), { recursive: true });
    writeFileSync(join(app, 'greeting.txt'), 'Hello\n');
    writeFileSync(join(app, 'deps.lock'), 'left-pad@1.3.0\n');
    writeFileSync(join(app, 'static', 'site.css'), 'body {}\n');
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('Phase #3 Build / launch.toml: layers, env and processes the SDK wrote are in an image that runs', async () => {
    const out = join(tmp, 'out1');
    const r = await build(out);
    expect(r.code, r.stderr).toBe(0);
    const layers = r.json<{ layers: { name: string }[] }>().layers.map((l) => l.name);
    expect(layers).toEqual(expect.arrayContaining(['fixtures/sdk-greeter:greeter', 'fixtures/sdk-sbom-writer:runtime']));
    // The later buildpack's `web` process is the default; the greeter's tool is in the image at its /layers path.
    expect(await runOnce(out, 'app', ['/cnb/process/web'], 'a runtime')).toContain('a runtime');
    expect(await runOnce(out, 'app', ['/layers/fixtures_sdk-greeter/greeter/bin/greet', 'world'], 'world')).toContain('Hello, world');
    const inspect = await lading(['inspect', `oci:${out}:app`, '--json'], env());
    const j = inspect.json<{ labels: Record<string, string>; env: string[] }>();
    expect(j.labels['io.lading.fixture.greeter']).toBe('1.0.0');
    expect(j.env).toContain('GREETING=Hello');
    expect(j.env.find((e) => e.startsWith('GREETER_BUILD='))).toBeUndefined();
  });

  it('Software-Bill-of-Materials: the SDK SBOMs reach --sbom-output-dir as valid CycloneDX and SPDX', () => {
    const files = readdirSync(join(tmp, 'sboms'), { recursive: true }).map(String);
    const cdx = files.find((f) => f.includes('sdk-sbom-writer') && f.includes('runtime') && f.endsWith('sbom.cdx.json'));
    const spdx = files.find((f) => f.includes('sdk-sbom-writer') && f.includes('runtime') && f.endsWith('sbom.spdx.json'));
    expect(cdx, files.join(', ')).toBeDefined();
    expect(spdx, files.join(', ')).toBeDefined();
    const bom = JSON.parse(readFileSync(join(tmp, 'sboms', cdx!), 'utf8'));
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.components.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['node', 'zlib']));
    const doc = JSON.parse(readFileSync(join(tmp, 'sboms', spdx!), 'utf8'));
    expect(doc.spdxVersion).toBe('SPDX-2.3');
  });

  it('Cached Layers: the layer contributor reuses the cache layer the lifecycle restored, and the digest is stable', async () => {
    const first = join(tmp, 'out1');
    expect(await runOnce(first, 'app', ['cat', '/workspace/cacher-result.txt'], 'built')).toMatch(/built: /);
    const second = join(tmp, 'out2');
    const r = await build(second);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Reusing layer');
    expect(await runOnce(second, 'app', ['cat', '/workspace/cacher-result.txt'], 'reused')).toContain('reused');
  });
});
