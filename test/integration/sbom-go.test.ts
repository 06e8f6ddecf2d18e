import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lading } from '../support/cli.js';
import { runBase } from '../support/run-base.js';
import { cdxComponents, cyclonedxErrors, spdxErrors } from '../support/sbom.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** `mod` and `dep` lines of `go version -m BINARY`: module path → version (a `=>` replacement wins). */
function goModules(binary: string): { main: string; deps: Map<string, string> } {
  const out = execFileSync('go', ['version', '-m', binary], { encoding: 'utf8' });
  let main = '';
  const deps = new Map<string, string>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'mod') main = f[1]!;
    if (f[0] === 'dep') deps.set(f[1]!, f[2]!);
    if (f[0] === '=>' && deps.size) deps.set([...deps.keys()].at(-1)!, f[2]!);
  }
  return { main, deps };
}

/** Issue 7 recall for Go: every module `go version -m` reports for the binary in the image is in the image SBOM. */
describe.skipIf(!requireTools('go', 'umoci', 'apt-get', 'dpkg-deb'))('image SBOM of a Go app', () => {
  let dir: string;
  let layout: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-sbom-go-'));
    const app = join(dir, 'go-vendored');
    cpSync(join(ROOT, 'test/fixtures/apps/go-vendored'), app, { recursive: true });
    layout = join(dir, 'out');
    const base = await runBase();
    const r = await lading([
      'build', `oci:${layout}:app`, '-p', app, '-b', join(ROOT, 'buildpacks/go'), '--run-image', base.reference,
      '--cache-dir', join(dir, 'cache'), '-e', 'GOPROXY=off', '--json',
    ], { LADING_HOME: join(dir, 'home') });
    expect(r.code, r.stderr).toBe(0);
  }, 180_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists every module go version -m reports for the binary, with its version; both documents valid', async () => {
    const bundle = join(dir, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:app`, bundle], { stdio: 'pipe' });
    const { main, deps } = goModules(join(bundle, 'rootfs/layers/lading_go/targets/bin/go-vendored'));
    expect(main).toBe('example.com/go-vendored');
    expect(deps.size).toBeGreaterThan(0);
    const files: Record<string, string> = {};
    for (const format of ['cyclonedx', 'spdx']) {
      const file = join(dir, `sbom.${format}.json`);
      const r = await lading(['sbom', `oci:${layout}:app`, '--format', format, '-o', file], { LADING_HOME: join(dir, 'home') });
      expect(r.code, r.stderr).toBe(0);
      files[format] = readFileSync(file, 'utf8');
    }
    expect(await cyclonedxErrors(files.cyclonedx!)).toEqual([]);
    expect(await spdxErrors(files.spdx!)).toEqual([]);
    const golang = cdxComponents(JSON.parse(files.cyclonedx!)).filter((c) => c.purl?.startsWith('pkg:golang/'));
    const missing = [...deps].filter(([path, version]) => !golang.some((c) => c.purl === `pkg:golang/${path}@${version}` && c.version === version));
    expect(missing, JSON.stringify(golang.map((c) => c.purl))).toEqual([]);
    const spdx = JSON.parse(files.spdx!) as { packages: { name: string; versionInfo?: string }[] };
    for (const [path, version] of deps) expect(spdx.packages.some((p) => p.name === path && p.versionInfo === version), `${path} in SPDX`).toBe(true);
  });
});
