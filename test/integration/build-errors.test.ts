import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { runBase, type RunBase } from '../support/run-base.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'test/fixtures/apps/hello');
const BUILDER = join(ROOT, 'test/fixtures/builders/sample');
const BASH = join(ROOT, 'test/fixtures/buildpacks/bash');
const BIN = join(ROOT, 'bin', 'lading');

/** Whether the layout has a manifest tagged `app`. */
function tagged(layout: string): boolean {
  const index = join(layout, 'index.json');
  if (!existsSync(index)) return false;
  const manifests = (JSON.parse(readFileSync(index, 'utf8')) as { manifests?: { annotations?: Record<string, string> }[] }).manifests ?? [];
  return manifests.some((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app');
}

describe.skipIf(!requireTools('apt-get', 'dpkg-deb'))('lading build: bad input fails clearly, with its exit code, tagging nothing (issue 3 acceptance)', () => {
  let base: RunBase;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    base = await runBase();
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A bash buildpack in a temp dir. */
  const buildpack = (toml: string, build = 'exit 0') => {
    const dir = temp('lading-bad-bp-');
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'buildpack.toml'), toml);
    writeFileSync(join(dir, 'bin/detect'), '#!/usr/bin/env bash\nexit 0\n');
    writeFileSync(join(dir, 'bin/build'), `#!/usr/bin/env bash\n${build}\n`);
    chmodSync(join(dir, 'bin/detect'), 0o755);
    chmodSync(join(dir, 'bin/build'), 0o755);
    return dir;
  };

  /** Builds into a fresh layout; asserts the failure's exit code and that no image was tagged. */
  const failing = async (args: string[], code: number) => {
    const out = temp('lading-bad-out-');
    const r = await lading(['build', `oci:${out}:app`, '--run-image', base.reference, ...args]);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(/^lading: /m);
    expect(tagged(out), 'nothing is tagged').toBe(false);
    return r;
  };

  it('no buildpack passes detect: exit 20, with the detect output', async () => {
    const r = await failing(['-p', APP, '-b', join(BASH, 'failing')], 20);
    expect(r.stderr).toContain('failing: nothing for me here');
  });

  it('a buildpack build fails: exit 51, its output shown', async () => {
    const r = await failing(['-p', APP, '-b', join(BASH, 'build-fails')], 51);
    expect(r.stderr).toContain('build-fails: main.c:3: error');
    expect(r.stderr).toMatch(/lading: buildpack fixtures\/build-fails@0\.1\.0 failed.*giving up/);
  });

  it('a malformed buildpack.toml: exit 5, naming the file and line', async () => {
    const bp = buildpack('api = "0.12"\n\n[buildpack\nid = "bad/toml"\n');
    const r = await failing(['-p', APP, '-b', bp], 5);
    expect(r.stderr).toContain(`${join(bp, 'buildpack.toml')}:3:`);
  });

  it('an unknown buildpack id: exit 4, naming it', async () => {
    const r = await failing(['-p', APP, '-B', BUILDER, '-b', 'nope/missing@1.0.0'], 4);
    expect(r.stderr).toContain('unknown buildpack nope/missing@1.0.0');
  });

  it('an unsupported Buildpack API: exit 12, naming the file', async () => {
    const bp = buildpack('api = "0.3"\n\n[buildpack]\nid = "old/api"\nversion = "1.0.0"\n');
    const r = await failing(['-p', APP, '-b', bp], 12);
    expect(r.stderr).toContain(join(bp, 'buildpack.toml'));
    expect(r.stderr).toContain('0.3');
  });

  it('a reserved layer name: exit 52, naming the layer', async () => {
    const bp = buildpack('api = "0.12"\n\n[buildpack]\nid = "bad/reserved"\nversion = "1.0.0"\n', 'mkdir -p "$CNB_LAYERS_DIR/launch"');
    const r = await failing(['-p', APP, '-b', bp], 52);
    expect(r.stderr).toContain('layer name "launch" is reserved');
  });

  it('an SBOM format the buildpack did not declare: exit 52', async () => {
    const r = await failing(['-p', APP, '-b', join(BASH, 'sbom-undeclared')], 52);
    expect(r.stderr).toMatch(/deps\.sbom\.syft\.json/);
  });

  it('an app dir that does not exist: exit 4 before anything else', async () => {
    const r = await failing(['-p', join(ROOT, 'no/such/app'), '-b', 'also/unknown'], 4);
    expect(r.stderr).toContain(`app directory ${join(ROOT, 'no/such/app')} does not exist`);
  });

  it('no run image and a -B builder without [run] images: a USAGE error (exit 2) naming both ways', async () => {
    const dir = temp('lading-no-run-builder-');
    writeFileSync(join(dir, 'builder.toml'), `[[buildpacks]]\nuri = "${join(BUILDER, 'buildpacks/hello')}"\n\n[[order]]\n[[order.group]]\nid = "sample/hello"\n`);
    const r = await lading(['build', 'oci:/tmp/never-written:app', '-p', APP, '-B', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pass --run-image REF, or -B');
    expect(r.stderr).toContain(`${join(dir, 'builder.toml')} has none`);
    expect(existsSync('/tmp/never-written')).toBe(false);
  });

  it('a malformed builder.toml: exit 5, naming the file and key', async () => {
    const dir = temp('lading-bad-builder-');
    writeFileSync(join(dir, 'builder.toml'), '[[buildpacks]]\nuri = "x"\n\n[[order]]\n[[order.group]]\nversion = "1"\n');
    const r = await failing(['-p', APP, '-B', dir], 5);
    expect(r.stderr).toContain(`${join(dir, 'builder.toml')}: order[0].group[0].id is required`);
  });

  it.skipIf(!existsSync(join(ROOT, 'dist/lifecycle/cli/main.js')))('Ctrl-C during export: exit 130, nothing tagged, the cache dir still consistent, no build dir left', async () => {
    const work = temp('lading-sigint-');
    const tmp = join(work, 'tmp');
    mkdirSync(tmp);
    const cacheDir = join(work, 'cache');
    const common = ['-p', APP, '-B', BUILDER, '--run-image', base.reference, '--cache-dir', cacheDir];
    const warm = await lading(['build', `oci:${join(work, 'warm')}:app`, ...common]);
    expect(warm.code, warm.stderr).toBe(0);

    const out = join(work, 'out');
    const child = spawn(BIN, ['build', `oci:${out}:app`, ...common, '-e', 'BP_BIG_MB=64'], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    child.stderr.on('data', (chunk: Buffer) => {
      const before = stderr;
      stderr += chunk.toString();
      if (!before.includes('===> EXPORT') && stderr.includes('===> EXPORT')) child.kill('SIGINT');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await exited;
    clearTimeout(timer);
    expect(stderr).toContain('big: wrote 64 MiB');
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/lading: .*(cancelled|interrupted)/i);
    expect(tagged(out), 'nothing tagged').toBe(false);
    expect(readdirSync(tmp).filter((n) => n.startsWith('lading-build-'))).toEqual([]);

    const after = await lading(['build', `oci:${join(work, 'after')}:app`, ...common]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).toContain('hello: cache restored: stamp-v1');
  });
});
