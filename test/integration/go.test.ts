import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runBase, type RunBase } from '../support/run-base.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const GO_BP = join(ROOT, 'buildpacks/go');
const APPS = join(ROOT, 'test/fixtures/apps');

interface BuildJson {
  digest: string;
  layers: { name: string; reused: boolean }[];
  uploaded: number;
}

/** Issue 6 acceptance: Go modules → images on the real registry, run under runc. */
describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb'))('Go buildpack (issue 6 acceptance)', () => {
  let registry: TestRegistry;
  let base: RunBase;
  let cache: string;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  /** A copy of a fixture in a fresh directory (builds from different places must agree). */
  const checkout = (app: string) => {
    const d = join(temp('lading-go-app-'), app);
    cpSync(join(APPS, app), d, { recursive: true });
    return d;
  };
  const build = async (ref: string, app: string, extra: string[] = [], cacheDir = cache) => {
    const r = await lading(['build', ref, '-p', app, '-b', GO_BP, '--run-image', base.reference, '--publish', '--cache-dir', cacheDir, '-e', 'GOPROXY=off', '--json', ...extra], {
      LADING_HOME: join(cacheDir, 'home'),
      SOURCE_DATE_EPOCH: undefined,
    });
    return { ...r, log: r.stderr };
  };
  const pull = async (ref: string) => {
    const layout = temp('lading-go-pulled-');
    const r = await lading(['copy', `docker://${ref}`, `oci:${layout}:app`]);
    expect(r.code, r.stderr).toBe(0);
    return layout;
  };
  const serve = async (layout: string, args?: string[]) => {
    const c = await runImage(layout, 'app', args ? { args } : {});
    try {
      return { answer: await c.fetch('/'), config: c.config };
    } finally {
      await c.stop();
    }
  };

  beforeAll(async () => {
    [registry, base] = await Promise.all([startRegistry(), runBase()]);
    // One cache for the file: the Go toolchain download is made once.
    cache = temp('lading-go-cache-');
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  let httpDigest = '';

  it('go-http: builds with Debian\'s Go, runs as uid 1000 with only the binary in the image; a no-op rebuild runs no go build and uploads nothing', async () => {
    const ref = `${registry.host}/go/http:v1`;
    const sbomDir = temp('lading-go-sbom-');
    const first = await build(ref, checkout('go-http'), ['--sbom-output-dir', sbomDir]);
    expect(first.code, first.log).toBe(0);
    expect(first.log).toMatch(/Go 1\.19\.\d+ from apt \(go\.mod go 1\.19: >=1\.19\.0\)/);
    expect(first.log).toContain('go build -trimpath -buildvcs=false -ldflags=-buildid= -modcacherw -o /layers/lading_go/targets/bin/go-http .');
    const digest = first.json<BuildJson>().digest;
    httpDigest = digest;

    const layout = await pull(ref);
    const { answer, config } = await serve(layout);
    expect(answer).toContain('hello from go-http');
    expect(answer).toContain('uid=1000 gid=1000 cwd=/workspace');
    expect(config.process.args).toEqual(['/layers/lading_go/targets/bin/go-http']);
    // Only the binary: the source left the app dir.
    const ls = await runImage(layout, 'app', { args: ['/bin/sh', '-c', 'ls -A /workspace; echo END; ls /layers/lading_go/targets/bin'] });
    await new Promise((r) => setTimeout(r, 500));
    const listing = ls.logs();
    await ls.stop();
    expect(listing).not.toContain('main.go');
    expect(listing).not.toContain('go.mod');
    expect(listing).toContain('go-http');

    // SBOM: stdlib at the toolchain's version and the main module, with golang purls; the toolchain as a Debian package.
    const launch = readFileSync(findFile(join(sbomDir, 'launch'), 'sbom.cdx.json'), 'utf8');
    expect(launch).toMatch(/"purl": "pkg:golang\/stdlib@1\.19\.\d+"/);
    expect(launch).toContain('"purl": "pkg:golang/example.com/go-http"');
    expect(readFileSync(findFile(join(sbomDir, 'launch'), 'sbom.spdx.json'), 'utf8')).toContain('pkg:golang/stdlib@1.19');
    expect(readFileSync(findFile(join(sbomDir, 'build'), 'sbom.cdx.json'), 'utf8')).toMatch(/pkg:deb\/debian\/golang-1\.19-go@/);

    // No-op rebuild: go build is not run, nothing is uploaded, same digest.
    const noop = await build(ref, checkout('go-http'));
    expect(noop.code, noop.log).toBe(0);
    expect(noop.log).toContain('not running go build');
    expect(noop.log).not.toContain('go build -trimpath');
    expect(noop.json<BuildJson>().digest).toBe(digest);
    expect(noop.json<BuildJson>().uploaded).toBe(0);

  }, 150_000);

  it('go-vendored: builds offline with -mod=vendor, runs, and lists the vendored module with its licence', async () => {
    const ref = `${registry.host}/go/vendored:v1`;
    const sbomDir = temp('lading-go-sbom-');
    const r = await build(ref, checkout('go-vendored'), ['--sbom-output-dir', sbomDir]);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain('-mod=vendor');
    const { answer, config } = await serve(await pull(ref));
    expect(answer).toContain('hello from go-vendored (greeting v1.2.0)');
    expect(answer).toContain('uid=1000 gid=1000');
    expect(config.process.user).toMatchObject({ uid: 1000, gid: 1000 });
    const cdx = JSON.parse(readFileSync(findFile(join(sbomDir, 'launch'), 'sbom.cdx.json'), 'utf8')) as { components: { name: string; purl: string; licenses?: unknown[] }[] };
    const dep = cdx.components.find((c) => c.name === 'example.com/greeting');
    expect(dep?.purl).toBe('pkg:golang/example.com/greeting@v1.2.0');
    expect(JSON.stringify(dep?.licenses)).toContain('MIT');
  }, 180_000);

  it('go-multi: one binary and process type per ./cmd/*, the first the default; both run', async () => {
    const ref = `${registry.host}/go/multi:v1`;
    const r = await build(ref, checkout('go-multi'));
    expect(r.code, r.log).toBe(0);
    const layout = await pull(ref);
    const a = await serve(layout);
    expect(a.answer).toContain('hello from a');
    expect(a.config.process.args).toEqual(['/layers/lading_go/targets/bin/a']);
    const b = await serve(layout, ['/cnb/process/b']);
    expect(b.answer).toContain('hello from b');
    expect(b.answer).toContain('uid=1000');
    const viaA = await serve(layout, ['/cnb/process/a']);
    expect(viaA.answer).toContain('hello from a');
  }, 180_000);

  it('go-http again from another directory, into another repository, with a GOCACHE warmed by other builds: go build runs and gives the same digest', async () => {
    expect(httpDigest).toMatch(/^sha256:/);
    const again = await build(`${registry.host}/go/http-elsewhere:v1`, checkout('go-http'));
    expect(again.code, again.log).toBe(0);
    expect(again.log).toContain('go build -trimpath');
    expect(again.json<BuildJson>().digest).toBe(httpDigest);
  }, 120_000);
});

function findFile(dir: string, name: string): string {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    if (e.isFile() && e.name === name && p.includes('lading_go')) return p;
  }
  throw new Error(`no ${name} under ${dir}${existsSync(dir) ? '' : ' (missing)'}`);
}
