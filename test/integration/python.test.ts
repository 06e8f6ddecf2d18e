import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { aptClosure, debianSemver, installDebs, type InstalledPackages } from '../../buildpacks/lib/index.js';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';
import { nodeRunImage } from './node-stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PYTHON_BP = join(ROOT, 'buildpacks/python');
const APPS = join(ROOT, 'test/fixtures/apps');

interface BuildJson {
  digest: string;
  layers: { name: string; diffId: string; reused: boolean }[];
  uploaded: number;
}

interface Answer {
  app: string;
  python: string;
  uid: number;
  gid: number;
  [k: string]: unknown;
}

/**
 * Issue 9 acceptance: Python apps → images on the real registry (Debian's CPython from apt, run from its
 * layer on the bookworm run-base), run under runc as uid 1000; reuse, reproducibility, SBOM.
 */
describe.skipIf(!requireTools('docker-registry', 'umoci', 'runc', 'apt-get', 'dpkg-deb', 'python3'))('Python buildpack (issue 9 acceptance)', () => {
  let registry: TestRegistry;
  let run: string;
  let cache: string;
  let wheels: string;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  /** A copy of a fixture in a fresh directory (builds from different places must agree). */
  const checkout = (app: string) => {
    const d = join(temp('lading-python-app-'), app);
    cpSync(join(APPS, app), d, { recursive: true });
    return d;
  };
  const build = async (ref: string, app: string, extra: string[] = [], cacheDir = cache) => {
    const r = await lading(['build', ref, '-p', app, '-b', PYTHON_BP, '--run-image', run, '--publish', '--cache-dir', cacheDir, '--json', ...extra], {
      LADING_HOME: join(cacheDir, 'home'),
      SOURCE_DATE_EPOCH: undefined,
      PIP_INDEX_URL: undefined,
      PIP_EXTRA_INDEX_URL: undefined,
    });
    return { ...r, log: r.stderr + r.stdout };
  };
  /** The wheel directory as the only package source: --find-links and no index (PyPI is unreachable here). */
  const offline = (dir = wheels) => ['-e', `BP_PIP_FIND_LINKS=${dir}`, '-e', 'PIP_NO_INDEX=1'];
  const pull = async (ref: string) => {
    const layout = temp('lading-python-pulled-');
    const r = await lading(['copy', `docker://${ref}`, `oci:${layout}:app`]);
    expect(r.code, r.stderr).toBe(0);
    return layout;
  };
  const serve = async (layout: string) => {
    const c = await runImage(layout, 'app');
    try {
      const text = await c.fetch('/');
      let answer: Answer;
      try {
        answer = JSON.parse(text) as Answer;
      } catch {
        throw new Error(`the app answered ${JSON.stringify(text)}\n${c.logs()}`);
      }
      return { answer, config: c.config };
    } finally {
      await c.stop();
    }
  };
  const launchSbom = (dir: string) => {
    const out: string[] = [];
    for (const e of readdirSync(join(dir, 'launch'), { withFileTypes: true, recursive: true })) {
      const p = join(e.parentPath, e.name);
      if (e.isFile() && e.name === 'sbom.cdx.json' && p.includes('lading_python')) out.push(readFileSync(p, 'utf8'));
    }
    expect(out.length).toBeGreaterThan(0);
    return out.join('\n');
  };

  beforeAll(async () => {
    [registry, run] = await Promise.all([startRegistry(), nodeRunImage()]);
    cache = temp('lading-python-cache-');
    // The requirements fixture's dependency: a wheel built here from a local package, served with --find-links.
    wheels = temp('lading-python-wheels-');
    const src = temp('lading-python-lib-');
    cpSync(join(APPS, 'python-greeting-lib'), src, { recursive: true });
    // Debian's python3 (python3-pip, -setuptools, -wheel: scripts/setup-system), not a python3 found earlier on PATH.
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    execFileSync(python, ['-m', 'pip', 'wheel', '--no-deps', '--no-index', '--no-build-isolation', '-q', '-w', wheels, src], { stdio: 'pipe', env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
    expect(readdirSync(wheels).some((f) => /^greeting-1\.2\.0-py3-none-any\.whl$/.test(f))).toBe(true);
  }, 600_000);
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('python-http: Procfile web with the standard library; CPython from the layer as uid 1000; SBOM names the interpreter; a no-op rebuild uploads nothing', async () => {
    const ref = `${registry.host}/python/http:v1`;
    const sbomDir = temp('lading-python-sbom-');
    const first = await build(ref, checkout('python-http'), ['--sbom-output-dir', sbomDir]);
    expect(first.code, first.log).toBe(0);
    expect(first.log).toMatch(/CPython 3\.11\.\d+ \(Debian python3\.11 .*requested "3\.11" by \.python-version\)/);
    const digest = first.json<BuildJson>().digest;

    const { answer, config } = await serve(await pull(ref));
    expect(answer).toMatchObject({ app: 'python-http', uid: 1000, gid: 1000, cwd: '/workspace', unbuffered: '1' });
    expect(answer.python).toMatch(/^3\.11\.\d+$/);
    expect(config.process.args).toEqual(['/layers/lading_python/cpython/usr/bin/python3.11', 'server.py']);
    expect(config.process.env).toContain('PYTHONHOME=/layers/lading_python/cpython/usr');

    const sbom = launchSbom(sbomDir);
    expect(sbom).toContain(`"purl": "pkg:generic/cpython@${answer.python}"`);
    expect(sbom).toContain(`"cpe": "cpe:2.3:a:python:python:${answer.python}:*:*:*:*:*:*:*"`);
    expect(sbom).toMatch(/"purl": "pkg:deb\/debian\/libpython3\.11-stdlib@/);

    const noop = await build(ref, checkout('python-http'));
    expect(noop.code, noop.log).toBe(0);
    expect(noop.log).toContain('Reusing layer cpython');
    expect(noop.json<BuildJson>().digest).toBe(digest);
    expect(noop.json<BuildJson>().uploaded).toBe(0);
  }, 600_000);

  let requirementsDigest = '';

  it('python-requirements: a wheel from --find-links with --no-index; pip-installed package imported at run time; pypi purl and licence in the SBOM', async () => {
    const ref = `${registry.host}/python/requirements:v1`;
    const sbomDir = temp('lading-python-sbom-');
    const r = await build(ref, checkout('python-requirements'), [...offline(), '--sbom-output-dir', sbomDir]);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain('pip install');
    expect(r.log).toContain('Successfully installed greeting-1.2.0');
    requirementsDigest = r.json<BuildJson>().digest;
    const { answer, config } = await serve(await pull(ref));
    expect(answer).toMatchObject({ app: 'python-requirements', uid: 1000, gid: 1000, greeting: 'hello python-requirements from greeting 1.2.0' });
    expect(String(answer['greeting_file'])).toMatch(/^\/layers\/lading_python\/packages\//);
    expect(answer.python).toMatch(/^3\.11\.\d+$/);
    expect(config.process.args).toEqual(['/layers/lading_python/cpython/usr/bin/python3.11', 'app.py']);
    const cdx = JSON.parse(readFileSync(findSbom(sbomDir, 'packages'), 'utf8')) as { components: { name: string; version: string; purl: string; licenses?: unknown[] }[] };
    const greeting = cdx.components.find((c) => c.name === 'greeting');
    expect(greeting).toMatchObject({ version: '1.2.0', purl: 'pkg:pypi/greeting@1.2.0' });
    expect(JSON.stringify(greeting?.licenses)).toContain('MIT');
  }, 600_000);

  it('python-requirements again from another directory: pip does not run, nothing is uploaded, same digest; a cold build elsewhere (other cache, other wheel directory) gives the same digest too', async () => {
    expect(requirementsDigest).toMatch(/^sha256:/);
    const ref = `${registry.host}/python/requirements:v1`;
    const again = await build(ref, checkout('python-requirements'), offline());
    expect(again.code, again.log).toBe(0);
    expect(again.log).toContain('pip did not run');
    expect(again.log).not.toContain('Successfully installed');
    expect(again.json<BuildJson>().digest).toBe(requirementsDigest);
    expect(again.json<BuildJson>().uploaded).toBe(0);

    // Nothing shared: another cache, another repository, the wheels in another directory; the interpreter is
    // installed and compiled again, pip runs again.
    const otherWheels = temp('lading-python-wheels-');
    cpSync(wheels, otherWheels, { recursive: true });
    const cold = await build(`${registry.host}/python/requirements-cold:v1`, checkout('python-requirements'), offline(otherWheels), temp('lading-python-cache-'));
    expect(cold.code, cold.log).toBe(0);
    expect(cold.log).toContain('Building layer cpython (no previous layer)');
    expect(cold.log).toContain('Successfully installed greeting-1.2.0');
    expect(cold.json<BuildJson>().digest).toBe(requirementsDigest);
  }, 900_000);

  it('python-pyproject: the project installed with pip (PEP 517, setuptools from the toolchain layer), started by its console script BP_PYTHON_START names', async () => {
    const ref = `${registry.host}/python/pyproject:v1`;
    const sbomDir = temp('lading-python-sbom-');
    const r = await build(ref, checkout('python-pyproject'), [...offline(), '--sbom-output-dir', sbomDir]);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain('requested ">=3.10.0" by pyproject.toml requires-python ">=3.10"');
    expect(r.log).toContain('Successfully installed helloweb-0.3.0');
    const { answer, config } = await serve(await pull(ref));
    expect(answer).toMatchObject({ app: 'python-pyproject', uid: 1000, gid: 1000 });
    expect(answer.python).toMatch(/^3\.11\.\d+$/);
    expect(config.process.args).toEqual(['/layers/lading_python/packages/local/bin/hello-web']);
    expect(String(answer['module'])).toMatch(/^\/layers\/lading_python\/packages\/.*\/helloweb\/server\.py$/);
    const cdx = readFileSync(findSbom(sbomDir, 'packages'), 'utf8');
    expect(cdx).toContain('"purl": "pkg:pypi/helloweb@0.3.0"');
    expect(cdx).toContain('Apache-2.0');
    // The build left nothing in the app dir (setuptools worked on a copy).
    const app = checkout('python-pyproject');
    expect(existsSync(join(app, 'build'))).toBe(false);
  }, 600_000);

  it('python-requirements with CPython from a catalog tarball (BP_CPYTHON_DIST_URI/SHA256, file:): verified, extracted into the layer, run from there; pip from its ensurepip; the SBOM records the URL and sha256', async () => {
    const { uri, sha256, version, ensurepip } = await relocatableCPython(temp('lading-python-dist-'));
    const ref = `${registry.host}/python/catalog:v1`;
    const sbomDir = temp('lading-python-sbom-');
    const r = await build(ref, checkout('python-requirements'), [...offline(), '-e', `BP_CPYTHON_DIST_URI=${uri}`, '-e', `BP_CPYTHON_DIST_SHA256=${sha256}`, '--sbom-output-dir', sbomDir], temp('lading-python-catalog-cache-'));
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain(`CPython ${version} (catalog: ${uri}; requested "3.x" by buildpack default)`);
    expect(r.log).toContain(ensurepip ? `pip from CPython ${version}'s own ensurepip (pip ` : 'bundles no ensurepip wheels: pip, setuptools and wheel from Debian');
    expect(r.log).toContain('Successfully installed greeting-1.2.0');
    const { answer, config } = await serve(await pull(ref));
    expect(answer).toMatchObject({ app: 'python-requirements', uid: 1000, gid: 1000, python: version, greeting: 'hello python-requirements from greeting 1.2.0' });
    expect(config.process.args).toEqual(['/layers/lading_python/cpython/bin/python3.11', 'app.py']);
    expect(config.process.env).toContain('PYTHONHOME=/layers/lading_python/cpython');
    const cdx = readFileSync(findSbom(sbomDir, 'cpython'), 'utf8');
    expect(cdx).toContain(sha256);
    expect(cdx).toContain(uri);
    expect(cdx).toContain(`cpe:2.3:a:python:python:${version}:`);
  }, 900_000);

  describe('bad input: exit 51 with a message naming the problem', () => {
    const broken = (files: Record<string, string>) => {
      const d = temp('lading-python-bad-');
      for (const [f, c] of Object.entries(files)) writeFileSync(join(d, f), c);
      return d;
    };
    const fail = async (files: Record<string, string>, extra: string[] = []) => {
      const r = await build(`${registry.host}/python/bad:v1`, broken(files), [...offline(), ...extra]);
      expect(r.code, r.log).toBe(51);
      return r.log;
    };

    it('an unparsable requirements line: the file, the line number and the text', async () => {
      const log = await fail({ 'requirements.txt': 'greeting==1.2.0\n\nflask >=< 2\n', 'app.py': 'print(1)\n' });
      expect(log).toContain('requirements.txt line 3: cannot parse "flask >=< 2"');
    }, 300_000);

    it('an unsatisfiable requires-python: the request, its source and what is available', async () => {
      const log = await fail({ 'pyproject.toml': '[project]\nname = "x"\nversion = "1"\nrequires-python = ">=3.13"\n' });
      expect(log).toContain('pyproject.toml requires-python ">=3.13"');
      expect(log).toMatch(/3\.11\.\d+/);
      expect(log).toContain('BP_CPYTHON_VERSION');
    }, 300_000);

    it('a dependency that cannot be found: pip\'s own error is in the failure message', async () => {
      const log = await fail({ 'requirements.txt': 'no-such-distribution==9.9\n', 'app.py': 'print(1)\n' });
      expect(log).toMatch(/pip install failed \(exit 1\)/);
      expect(log).toContain('ERROR: Could not find a version that satisfies the requirement no-such-distribution==9.9');
      expect(log).toContain('ERROR: No matching distribution found for no-such-distribution==9.9');
    }, 300_000);

    it('no entry point: what was looked for', async () => {
      const log = await fail({ 'requirements.txt': 'greeting\n', 'lib.py': 'x = 1\n' });
      expect(log).toContain('no start command for the app');
      expect(log).toContain('Procfile');
      expect(log).toContain('BP_PYTHON_START');
      expect(log).toContain('app.py or main.py');
    }, 300_000);
  });
});

function findSbom(dir: string, layer: string): string {
  for (const e of readdirSync(join(dir, 'launch'), { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    if (e.isFile() && e.name === 'sbom.cdx.json' && p.includes(join('lading_python', layer))) return p;
  }
  throw new Error(`no CycloneDX SBOM of lading_python/${layer} under ${dir}`);
}

/**
 * A relocatable CPython tarball laid out like the standalone builds (`python/bin/python3`, `python/lib/python3.11/`,
 * shared libraries in `python/lib/<triplet>/`), made from Debian's python3.11 and its closure beyond glibc
 * (buildpacks/lib aptClosure + installDebs), with the machine's ensurepip wheels (Debian's python3-pip-whl,
 * python3-setuptools-whl) in `ensurepip/_bundled/` as standalone 3.11 builds ship them. Served as a file: URL.
 */
async function relocatableCPython(dir: string): Promise<{ uri: string; sha256: string; version: string; ensurepip: boolean }> {
  const tree = join(dir, 'tree');
  const glibc: InstalledPackages = { versions: new Map([['libc6', ''], ['libgcc-s1', ''], ['gcc-12-base', '']]), provides: new Set(), source: 'test: glibc only' };
  const debs = await aptClosure(['python3.11'], { env: process.env, installed: glibc, exclude: ['dpkg', 'install-info', 'debconf', 'cdebconf', 'tzdata'] });
  await installDebs(debs, tree, { env: process.env, exclude: ['./usr/share/doc', './usr/share/man', './usr/share/locale'] });
  const root = join(dir, 'python');
  renameSync(join(tree, 'usr'), root);
  if (existsSync(join(tree, 'lib'))) cpSync(join(tree, 'lib'), join(root, 'lib'), { recursive: true, verbatimSymlinks: true });
  symlinkSync('python3.11', join(root, 'bin', 'python3'));
  const wheels = existsSync('/usr/share/python-wheels') ? readdirSync('/usr/share/python-wheels').filter((f) => /^(pip|setuptools)-.*\.whl$/.test(f)) : [];
  const bundled = join(root, 'lib', 'python3.11', 'ensurepip', '_bundled');
  mkdirSync(bundled, { recursive: true });
  for (const w of wheels) cpSync(join('/usr/share/python-wheels', w), join(bundled, w));
  const version = debianSemver(debs.find((d) => d.name === 'python3.11')?.version ?? '') as string;
  const file = join(dir, `cpython-${version}-x86_64-linux-gnu.tar.gz`);
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@315532801', '-czf', file, '-C', dir, 'python']);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  return { uri: pathToFileURL(file).href, sha256, version, ensurepip: wheels.some((w) => w.startsWith('pip-')) };
}
