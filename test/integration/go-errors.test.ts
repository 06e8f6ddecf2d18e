import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { runBase, type RunBase } from '../support/run-base.js';
import { hasTool, requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const GO_BP = join(ROOT, 'buildpacks/go');

/** Issue 6: bad input fails the build (exit 51) with a message that names the file and says what to do. */
describe.skipIf(!requireTools('go', 'apt-get', 'dpkg-deb'))('Go buildpack: bad input', () => {
  let base: RunBase;
  let cache: string;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const app = (files: Record<string, string>) => {
    const d = temp('lading-go-bad-');
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(d, p, '..'), { recursive: true });
      writeFileSync(join(d, p), c);
    }
    return d;
  };
  /** The host's go keeps these fast; the apt path is proven by go.test.ts. */
  const build = async (dir: string, env: string[] = ['-e', 'BP_GO_TOOLCHAIN=host']) => {
    const r = await lading(['build', `oci:${temp('lading-go-bad-out-')}:app`, '-p', dir, '-b', GO_BP, '--run-image', base.reference, '--cache-dir', cache, '-e', 'GOPROXY=off', ...env], {
      LADING_HOME: join(cache, 'home'),
    });
    return { code: r.code, log: r.stderr + r.stdout };
  };

  beforeAll(async () => {
    base = await runBase();
    cache = temp('lading-go-bad-cache-');
  }, 120_000);
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('malformed go.mod: the file and line', async () => {
    const r = await build(app({ 'go.mod': 'module example.com/bad\n\ngo 1.19\nrequire example.com/x\n', 'main.go': 'package main\nfunc main() {}\n' }));
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('go.mod:4: usage: require module/path v1.2.3');
  });

  it('compile error: the compiler output with file and line, exit 51', async () => {
    const r = await build(app({ 'go.mod': 'module example.com/broken\n\ngo 1.19\n', 'main.go': 'package main\n\nfunc main() {\n\tundefinedThing()\n}\n' }));
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('go build . failed (exit 2)');
    expect(r.log).toContain('./main.go:4:2: undefined: undefinedThing');
  }, 120_000);

  it('missing module with GOPROXY=off: says to vendor or set GOPROXY', async () => {
    const r = await build(
      app({
        'go.mod': 'module example.com/needs\n\ngo 1.19\n\nrequire example.com/missing v1.0.0\n',
        'main.go': 'package main\n\nimport "example.com/missing"\n\nfunc main() { missing.Do() }\n',
      }),
    );
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('main.go');
    expect(r.log).toContain('run "go mod vendor" and commit vendor/');
    expect(r.log).toContain('setting GOPROXY');
  }, 120_000);

  it('no main package: says where it looked and about BP_GO_TARGETS', async () => {
    const r = await build(app({ 'go.mod': 'module example.com/lib\n\ngo 1.19\n', 'lib.go': 'package lib\n', 'cmd/tool/tool.go': 'package tool\n' }));
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('no main package found');
    expect(r.log).toContain('BP_GO_TARGETS');
  });

  it.skipIf(!hasTool('apt-cache'))('no Go satisfies go.mod: the versions apt has and how to point at another source', async () => {
    const r = await build(app({ 'go.mod': 'module example.com/future\n\ngo 1.99\n', 'main.go': 'package main\nfunc main() {}\n' }), []);
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('satisfies ">=1.99.0" (from go.mod go 1.99)');
    expect(r.log).toMatch(/nearest available: .*1\.19\.\d+-\d+/);
    expect(r.log).toContain('BP_GO_DIST_URI');
    expect(r.log).toContain('BP_GO_TOOLCHAIN=host');
  });
});
