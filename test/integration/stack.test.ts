import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFromSource, writeImage } from '../../registry/image/index.js';
import { createLayer } from '../../registry/layers/index.js';
import { openLayoutSink, openLayoutSource } from '../../registry/layout/index.js';
import { appendLayers, withConfig } from '../../registry/mutate/index.js';
import { parseControlRecords } from '../../stacks/builder/index.js';
import { lading } from '../support/cli.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const STACK = join(ROOT, 'stacks/bookworm');
/** .debs are content-addressed and verified, so test runs share one cache. */
const DEB_CACHE = join(tmpdir(), 'lading-test-debs');

interface BuildJson { stack: string; images: { name: string; ref: string; digest: string }[] }

describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'umoci', 'runc', 'go'))('lading stack build (stacks/bookworm)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let first: BuildJson;
  let goBinary: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-stack-'));
    env = { LADING_HOME: join(dir, 'home'), SOURCE_DATE_EPOCH: '1700000000' };
    const r = await lading(['stack', 'build', STACK, '--output', `oci:${join(dir, 'one')}`, '--deb-cache', DEB_CACHE, '--json'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    first = r.json<BuildJson>();
    goBinary = join(dir, 'go-http');
    execFileSync('go', ['build', '-trimpath', '-o', goBinary, '.'], {
      cwd: join(ROOT, 'test/fixtures/apps/go-http'), env: { ...process.env, CGO_ENABLED: '0', GOPROXY: 'off', GOFLAGS: '', GOCACHE: join(dir, 'gocache') }, stdio: 'pipe',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the same three digests twice from the same lock, whatever SOURCE_DATE_EPOCH says', async () => {
    expect(first.images.map((i) => i.name)).toEqual(['build', 'run-base', 'run-static']);
    const again = await lading(['stack', 'build', STACK, '--output', `oci:${join(dir, 'two')}`, '--deb-cache', DEB_CACHE, '--json'], { ...env, SOURCE_DATE_EPOCH: '1' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<BuildJson>().images.map((i) => i.digest)).toEqual(first.images.map((i) => i.digest));
  });

  it('writes images with the stack labels, user and env; the build image has CNB_USER_ID/CNB_GROUP_ID', async () => {
    const source = await openLayoutSource({ transport: 'oci', path: join(dir, 'one'), tag: 'build' });
    const build = await imageFromSource(source, await source.resolve());
    const c = build.config.config!;
    expect(c.User).toBe('1000:1000');
    expect(c.Env).toEqual(expect.arrayContaining(['CNB_USER_ID=1000', 'CNB_GROUP_ID=1000', expect.stringMatching(/^PATH=.*\/usr\/bin/)]));
    expect(c.Labels).toMatchObject({
      'io.buildpacks.base.id': 'io.lading.stacks.bookworm', 'io.buildpacks.base.distro.name': 'debian', 'io.buildpacks.base.distro.version': '12', 'io.buildpacks.rebasable': 'true',
    });
    expect(build.config.created).toBe('1980-01-01T00:00:01Z');
    await source.close();
  });

  function unpack(tag: string): string {
    const bundle = join(dir, `bundle-${tag}`);
    if (!existsSync(bundle)) execFileSync('umoci', ['unpack', '--image', `${join(dir, 'one')}:${tag}`, bundle], { stdio: 'pipe' });
    return join(bundle, 'rootfs');
  }

  it('run-base: merged /usr, /tmp 1777, passwd with cnb, a PEM CA bundle, dpkg records matching the files', () => {
    const rootfs = unpack('run-base');
    expect(lstatSync(join(rootfs, 'lib')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toContain('cnb:x:1000:1000:');
    expect(lstatSync(join(rootfs, 'home/cnb')).uid).toBe(1000);
    const pem = readFileSync(join(rootfs, 'etc/ssl/certs/ca-certificates.crt'), 'utf8');
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(blocks.length).toBeGreaterThan(100);
    for (const b of blocks) expect(new X509Certificate(b).subject).not.toBe('');
    const statusDir = join(rootfs, 'var/lib/dpkg/status.d');
    const records = readdirSync(statusDir).filter((f) => !f.endsWith('.md5sums'));
    expect(records.sort()).toEqual(['base-files', 'ca-certificates', 'gcc-12-base', 'libc6', 'libgcc-s1', 'libssl3', 'libstdc++6', 'netbase', 'tzdata', 'zlib1g']);
    for (const name of records) {
      const [fields] = parseControlRecords(readFileSync(join(statusDir, name), 'utf8'));
      expect(fields?.get('Package')).toBe(name);
      expect(fields?.get('Status')).toBe('install ok installed');
      expect(fields?.get('Version')).toMatch(/\d/);
      const sums = readFileSync(join(statusDir, `${name}.md5sums`), 'utf8').trim().split('\n');
      expect(sums.length).toBeGreaterThan(0);
      for (const line of sums) {
        const [md5, path] = line.split(/ {2}/);
        expect(createHash('md5').update(readFileSync(join(rootfs, path!))).digest('hex'), path).toBe(md5);
      }
    }
    expect(existsSync(join(rootfs, 'usr/share/doc/libc6/copyright'))).toBe(true);
  });

  it('run-static has no libc and no shell, but CA certificates, tzdata and passwd', () => {
    const rootfs = unpack('run-static');
    expect(existsSync(join(rootfs, 'usr/lib/x86_64-linux-gnu/libc.so.6'))).toBe(false);
    expect(existsSync(join(rootfs, 'usr/bin/sh'))).toBe(false);
    expect(existsSync(join(rootfs, 'usr/share/zoneinfo/Europe/Berlin'))).toBe(true);
    expect(readFileSync(join(rootfs, 'etc/ssl/certs/ca-certificates.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(readFileSync(join(rootfs, 'etc/group'), 'utf8')).toContain('cnb:x:1000:');
  });

  it('run-static and run-base leave out what stack.toml excludes; the bundle, the records and copyright files stay', async () => {
    for (const tag of ['run-static', 'run-base']) {
      const rootfs = unpack(tag);
      expect(existsSync(join(rootfs, 'usr/share/ca-certificates')), tag).toBe(false);
      expect(existsSync(join(rootfs, 'usr/share/zoneinfo/right')), tag).toBe(false);
      expect(existsSync(join(rootfs, 'usr/share/zoneinfo/Europe/Berlin')), tag).toBe(true);
      expect(existsSync(join(rootfs, 'usr/share/zoneinfo/UTC')), tag).toBe(true);
      for (const pkg of ['ca-certificates', 'tzdata']) expect(existsSync(join(rootfs, 'usr/share/doc', pkg, 'copyright')), `${tag} ${pkg}`).toBe(true);
      const pem = readFileSync(join(rootfs, 'etc/ssl/certs/ca-certificates.crt'), 'utf8');
      expect((pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length, tag).toBeGreaterThan(100);
      const statusDir = join(rootfs, 'var/lib/dpkg/status.d');
      expect(readFileSync(join(statusDir, 'ca-certificates'), 'utf8')).toContain('Status: install ok installed');
      // The md5sums lists name only what the image holds (what dpkg --verify-style tools check).
      const sums = ['tzdata', 'ca-certificates'].map((p) => readFileSync(join(statusDir, `${p}.md5sums`), 'utf8')).join('');
      expect(sums).not.toMatch(/usr\/share\/(zoneinfo\/right|ca-certificates)\//);
      for (const line of sums.trim().split('\n')) expect(existsSync(join(rootfs, line.split(/ {2}/)[1]!)), line).toBe(true);
      const source = await openLayoutSource({ transport: 'oci', path: join(dir, 'one'), tag });
      const image = await imageFromSource(source, await source.resolve());
      expect(image.config.config?.Labels?.['io.lading.stack.exclude']).toBe('["/usr/share/ca-certificates","/usr/share/zoneinfo/right"]');
      await source.close();
    }
    expect(existsSync(join(unpack('build'), 'usr/share/ca-certificates/mozilla'))).toBe(true);
  });

  async function withApp(tag: string, entrypoint: string[], extra: { path: string; source: string }): Promise<string> {
    const layout = join(dir, 'one');
    const source = await openLayoutSource({ transport: 'oci', path: layout, tag });
    const base = await imageFromSource(source, await source.resolve());
    const layer = await createLayer({ entries: [{ type: 'file', path: extra.path, source: extra.source, mode: 0o755 }] });
    const app = withConfig(appendLayers(base, { layer }), { entrypoint });
    const sink = await openLayoutSink({ transport: 'oci', path: layout, tag: `${tag}-app` });
    await writeImage(sink, app);
    await sink.commit();
    await source.close();
    await layer.dispose();
    return `${tag}-app`;
  }

  it('run-static runs a static Go binary under runc as uid 1000', async () => {
    const tag = await withApp('run-static', ['/workspace/go-http'], { path: '/workspace/go-http', source: goBinary });
    const c = await runImage(join(dir, 'one'), tag);
    try {
      expect(await c.fetch('/')).toContain('uid=1000 gid=1000');
    } finally {
      await c.stop();
    }
  });

  it('run-static: a static Go binary finds its time zones and the TLS roots under runc', async () => {
    const src = join(dir, 'tzroots');
    execFileSync('mkdir', ['-p', src]);
    writeFileSync(join(src, 'main.go'), [
      'package main',
      'import ("crypto/x509"; "fmt"; "net/http"; "os"; "time")',
      'func main() {',
      '  http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {',
      '    berlin, err := time.LoadLocation("Europe/Berlin")',
      '    if err != nil { fmt.Fprintf(w, "tz error: %v\\n", err); return }',
      '    fmt.Fprintf(w, "berlin=%s\\n", time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC).In(berlin).Format("-0700 MST"))',
      '    pool, err := x509.SystemCertPool()',
      '    if err != nil { fmt.Fprintf(w, "roots error: %v\\n", err); return }',
      '    fmt.Fprintf(w, "roots=%d\\n", len(pool.Subjects()))',
      '  })',
      '  http.ListenAndServe(":"+os.Getenv("PORT"), nil)',
      '}',
      '',
    ].join('\n'));
    writeFileSync(join(src, 'go.mod'), 'module tzroots\n\ngo 1.19\n');
    const binary = join(dir, 'tzroots-bin');
    execFileSync('go', ['build', '-trimpath', '-o', binary, '.'], {
      cwd: src, env: { ...process.env, CGO_ENABLED: '0', GOPROXY: 'off', GOFLAGS: '', GOCACHE: join(dir, 'gocache') }, stdio: 'pipe',
    });
    const tag = await withApp('run-static', ['/workspace/tzroots'], { path: '/workspace/tzroots', source: binary });
    const c = await runImage(join(dir, 'one'), tag);
    try {
      const answer = await c.fetch('/');
      expect(answer).toContain('berlin=+0200 CEST');
      expect(Number(/roots=(\d+)/.exec(answer)?.[1] ?? 0), answer).toBeGreaterThan(100);
    } finally {
      await c.stop();
    }
  });

  it('run-base runs a program linked against its glibc (cgo build) under runc as uid 1000', async () => {
    const dynamic = join(dir, 'go-http-cgo');
    execFileSync('go', ['build', '-trimpath', '-o', dynamic, '.'], {
      cwd: join(ROOT, 'test/fixtures/apps/go-http'), env: { ...process.env, CGO_ENABLED: '1', GOPROXY: 'off', GOFLAGS: '', GOCACHE: join(dir, 'gocache') }, stdio: 'pipe',
    });
    expect(execFileSync('ldd', [dynamic]).toString()).toContain('libc.so.6');
    const tag = await withApp('run-base', ['/workspace/go-http'], { path: '/workspace/go-http', source: dynamic });
    const c = await runImage(join(dir, 'one'), tag);
    try {
      expect(c.config.process.user.uid).toBe(1000);
      expect(await c.fetch('/')).toContain('uid=1000 gid=1000');
    } finally {
      await c.stop();
    }
  });
});

describe.skipIf(!requireTools('apt-get', 'dpkg-deb'))('lading stack: bad input', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lading-stack-bad-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function stackCopy(name: string, edit?: (toml: string) => string): string {
    const d = join(dir, name);
    cpSync(STACK, d, { recursive: true });
    if (edit) writeFileSync(join(d, 'stack.toml'), edit(readFileSync(join(d, 'stack.toml'), 'utf8')));
    return d;
  }
  const home = () => ({ LADING_HOME: join(dir, 'home') });

  it('a malformed stack.toml: exit 5 naming the file', async () => {
    const d = stackCopy('malformed', (t) => t.replace('kind = "build"', 'kind = 3'));
    const r = await lading(['stack', 'build', d, '--deb-cache', DEB_CACHE], home());
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`${join(d, 'stack.toml')}: images.build.kind must be a non-empty string`);
  });

  it('exclude: another list changes only that image, without a new lock; a pattern matching nothing is exit 5 naming it', async () => {
    const d = stackCopy('exclude', (t) => t.replace(/(\[images\.run-static\][\s\S]*?)exclude = \[[^\]]*\]/, '$1exclude = ["/usr/share/zoneinfo/right"]'));
    const r = await lading(['stack', 'build', d, '--output', `oci:${join(dir, 'exclude-out')}`, '--deb-cache', DEB_CACHE, '--json'], home());
    expect(r.code, r.stderr).toBe(0);
    const main = await lading(['stack', 'build', STACK, '--output', `oci:${join(dir, 'main-out')}`, '--deb-cache', DEB_CACHE, '--json'], home());
    expect(main.code, main.stderr).toBe(0);
    const digests = (j: BuildJson) => Object.fromEntries(j.images.map((i) => [i.name, i.digest]));
    const edited = digests(r.json<BuildJson>());
    const current = digests(main.json<BuildJson>());
    expect(edited.build).toBe(current.build);
    expect(edited['run-base']).toBe(current['run-base']);
    expect(edited['run-static']).not.toBe(current['run-static']);

    const typo = stackCopy('exclude-typo', (t) => t.replace('"/usr/share/zoneinfo/right"]', '"/usr/share/zoneinfo/rigth"]'));
    const out = join(dir, 'exclude-typo-out');
    const bad = await lading(['stack', 'build', typo, '--output', `oci:${out}`, '--deb-cache', DEB_CACHE], home());
    expect(bad.code).toBe(5);
    expect(bad.stderr).toContain(`${join(typo, 'stack.toml')}: images.run-base.exclude[1] "/usr/share/zoneinfo/rigth" matches no file of the image's packages`);
    expect(existsSync(out)).toBe(false);
  });

  it('a lock that does not match the package lists: exit 13 telling to run stack lock; nothing tagged', async () => {
    const d = stackCopy('stale', (t) => t.replace('"libc6", "libssl3"', '"libc6", "libsqlite3-0", "libssl3"'));
    const out = join(dir, 'stale-out');
    const r = await lading(['stack', 'build', d, '--output', `oci:${out}`, '--deb-cache', DEB_CACHE, '--json'], home());
    expect(r.code).toBe(13);
    expect(r.json<{ error: { code: string; message: string } }>().error.message).toMatch(/image run-base packages changed \(\+libsqlite3-0\).*run `lading stack lock/);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown package: exit 4 naming it, and no lock written', async () => {
    const d = stackCopy('unknown', (t) => t.replace('"libc6", "libssl3"', '"libc6", "no-such-package-lading", "libssl3"'));
    rmSync(join(d, 'stack.lock'));
    const r = await lading(['stack', 'lock', d], home());
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('images.run-base: package no-such-package-lading is not available from the apt sources');
    expect(existsSync(join(d, 'stack.lock'))).toBe(false);
  });

  it('an unreachable apt source: exit 8', async () => {
    const d = stackCopy('offline');
    const sources = join(dir, 'offline.list');
    writeFileSync(sources, 'deb [trusted=yes] http://127.0.0.1:9/debian bookworm main\n');
    const r = await lading(['stack', 'lock', d, '--apt-sources', sources], home());
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('apt-get update failed');
  });
});
