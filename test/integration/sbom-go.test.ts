import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lading } from '../support/cli.js';
import { runBase } from '../support/run-base.js';
import { cdxComponents, cyclonedxErrors, spdxErrors } from '../support/sbom.js';
import { expectValidLayoutSboms } from '../support/sbom-check.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = 'rootfs/layers/lading_go/targets/bin';

interface GoModules {
  /** The toolchain that built the binary (`go1.19.8`), from the header line. */
  go: string;
  main: { path: string; version: string };
  deps: Map<string, string>;
  /** `build KEY=VALUE` lines (CGO_ENABLED, -trimpath, …). */
  settings: Map<string, string>;
}

/** What `go version -m BINARY` reports: the Go version, the `mod` line and the `dep` lines (a `=>` replacement wins). */
function goModules(binary: string): GoModules {
  const out = execFileSync('go', ['version', '-m', binary], { encoding: 'utf8' });
  const go = /^\S.*: (go\S+)$/m.exec(out)?.[1] ?? '';
  let main = { path: '', version: '' };
  const deps = new Map<string, string>();
  const settings = new Map<string, string>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'build' && f[1]?.includes('=')) settings.set(f[1].slice(0, f[1].indexOf('=')), f[1].slice(f[1].indexOf('=') + 1));
    if (f[0] === 'mod') main = { path: f[1]!, version: f[2]! };
    if (f[0] === 'dep') deps.set(f[1]!, f[2]!);
    if (f[0] === '=>' && deps.size) deps.set([...deps.keys()].at(-1)!, f[2]!);
  }
  return { go, main, deps, settings };
}

/** The Go fixtures, the binaries each puts in the image, and the extra build flags it needs. */
const FIXTURES: { app: string; binaries: string[]; env?: string[] }[] = [
  { app: 'go-vendored', binaries: ['go-vendored'] },
  { app: 'go-http', binaries: ['go-http'] },
  { app: 'go-multi', binaries: ['a', 'b'] },
  { app: 'go-cgo', binaries: ['go-cgo'], env: ['-e', 'CGO_ENABLED=1'] },
];

/**
 * Issue 7 recall for Go: for every Go fixture, every module `go version -m` reports for each binary in the
 * image (the main module, each dependency, and the standard library at the toolchain's version) is in the
 * image's CycloneDX and SPDX SBOMs with the same version; both documents validate.
 */
describe.skipIf(!requireTools('go', 'gcc', 'umoci', 'apt-get', 'dpkg-deb'))('image SBOMs of the Go fixtures', () => {
  let dir: string;
  let layout: string;
  const env = () => ({ LADING_HOME: join(dir, 'home') });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-sbom-go-'));
    layout = join(dir, 'out');
    const base = await runBase();
    for (const f of FIXTURES) {
      const app = join(dir, 'src', f.app);
      cpSync(join(ROOT, 'test/fixtures/apps', f.app), app, { recursive: true });
      const r = await lading([
        'build', `oci:${layout}:${f.app}`, '-p', app, '-b', join(ROOT, 'buildpacks/go'), '--run-image', base.reference,
        '--cache-dir', join(dir, 'cache'), '-e', 'GOPROXY=off', ...(f.env ?? []), '--json',
      ], env());
      expect(r.code, `${f.app}: ${r.stderr}`).toBe(0);
    }
  }, 600_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(FIXTURES)('$app: every module go version -m reports for each binary is in both SBOMs, with its version', async ({ app, binaries }) => {
    const bundle = join(dir, 'bundle', app);
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:${app}`, bundle], { stdio: 'pipe' });
    expect(readdirSync(join(bundle, BIN)).sort()).toEqual([...binaries].sort());
    const files: Record<string, string> = {};
    for (const format of ['cyclonedx', 'spdx']) {
      const file = join(dir, `${app}.${format}.json`);
      const r = await lading(['sbom', `oci:${layout}:${app}`, '--format', format, '-o', file], env());
      expect(r.code, r.stderr).toBe(0);
      files[format] = readFileSync(file, 'utf8');
    }
    expect(await cyclonedxErrors(files.cyclonedx!)).toEqual([]);
    expect(await spdxErrors(files.spdx!)).toEqual([]);
    const golang = cdxComponents(JSON.parse(files.cyclonedx!)).filter((c) => c.purl?.startsWith('pkg:golang/'));
    const spdx = (JSON.parse(files.spdx!) as { packages: { name: string; versionInfo?: string; externalRefs?: { referenceLocator: string }[] }[] }).packages;
    const inSpdx = (name: string, version: string) => spdx.some((p) => p.name === name && p.versionInfo === version);
    for (const binary of binaries) {
      const m = goModules(join(bundle, BIN, binary));
      expect(m.main.path, binary).toBe(`example.com/${app}`);
      expect(m.settings.get('CGO_ENABLED'), `${binary} CGO_ENABLED`).toBe(app === 'go-cgo' ? '1' : '0');
      // The main module, as go reports it ((devel) for a build from a source tree).
      expect(golang.some((c) => c.name === m.main.path && c.version === m.main.version), `${m.main.path} ${m.main.version} in CycloneDX`).toBe(true);
      expect(inSpdx(m.main.path, m.main.version), `${m.main.path} in SPDX`).toBe(true);
      // The standard library at the toolchain's version.
      const std = m.go.replace(/^go/, '');
      expect(golang.some((c) => c.purl === `pkg:golang/stdlib@${std}` && c.version === m.go), `stdlib ${m.go} in CycloneDX: ${golang.map((c) => c.purl).join(', ')}`).toBe(true);
      expect(inSpdx('stdlib', m.go), `stdlib ${m.go} in SPDX`).toBe(true);
      const missing = [...m.deps].filter(([path, version]) => !golang.some((c) => c.purl === `pkg:golang/${path}@${version}` && c.version === version));
      expect(missing, JSON.stringify(golang.map((c) => c.purl))).toEqual([]);
      for (const [path, version] of m.deps) expect(inSpdx(path, version), `${path} in SPDX`).toBe(true);
    }
    if (app === 'go-vendored') expect(goModules(join(bundle, BIN, 'go-vendored')).deps.size).toBeGreaterThan(0);
  });

  it('the layout\'s CNB SBOM layers (the Go buildpack\'s own files) all validate', async () => {
    const stats = await expectValidLayoutSboms(layout);
    expect(stats.sbomLayers).toBe(FIXTURES.length);
  });
});
