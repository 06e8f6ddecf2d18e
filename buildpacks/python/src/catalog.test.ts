import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Layers, Logger, type BuildContext, type CatalogEntry } from '../../lib/index.js';
import { requireTools } from '../../../test/support/tools.js';
import type { Interpreter } from './interpreter.js';
import { contributeCatalogInterpreter, contributeEnsurepip, cpythonCatalog, cpythonSourceKind, ensurepipWheels, findPythonRoot, resolveCatalogPython } from './catalog.js';

const dirs: string[] = [];
const temp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sha = 'b'.repeat(64);
const entry = (version: string): CatalogEntry => ({ name: 'cpython', version, uri: `file:///m/cpython-${version}.tar.gz`, sha256: sha });

describe('CPython catalog entries', () => {
  it('come from buildpack.toml ([[metadata.dependencies]] id "cpython") and BP_CPYTHON_DIST_URI/SHA256, the version from the file name', () => {
    const metadata = { dependencies: [{ id: 'cpython', version: '3.12.4', uri: 'file:///m/py.tgz', sha256: sha }, { id: 'go', version: '1.22.0', uri: 'file:///g', sha256: sha }] };
    expect(cpythonCatalog(metadata, {}).map((e) => e.version)).toEqual(['3.12.4']);
    const standalone = cpythonCatalog(metadata, { uri: 'https://mirror.invalid/dl/cpython-3.11.9+20240726-x86_64-unknown-linux-gnu-install_only.tar.gz', sha256: sha.toUpperCase() });
    expect(standalone.map((e) => e.version)).toEqual(['3.11.9', '3.12.4']);
    expect(standalone[0]).toMatchObject({ name: 'cpython', sha256: sha, licenses: ['PSF-2.0'] });
    expect(cpythonCatalog({}, { uri: 'file:///srv/Python-3.10.14-linux.tar.gz', sha256: sha })[0]?.version).toBe('3.10.14');
    expect(cpythonCatalog({}, { uri: 'file:///srv/interp.tar.gz', sha256: sha, version: '3.11.2' })[0]?.version).toBe('3.11.2');
  });

  it('refuses half a setting, a bad sha256, an unknown scheme and a version it cannot tell', () => {
    expect(() => cpythonCatalog({}, { uri: 'file:///x/cpython-3.11.2.tar.gz' })).toThrow('BP_CPYTHON_DIST_URI and BP_CPYTHON_DIST_SHA256 go together');
    expect(() => cpythonCatalog({}, { sha256: sha })).toThrow('go together');
    expect(() => cpythonCatalog({}, { uri: 'file:///x/cpython-3.11.2.tar.gz', sha256: 'abc' })).toThrow('hex sha256');
    expect(() => cpythonCatalog({}, { uri: 'ftp://h/cpython-3.11.2.tar.gz', sha256: sha })).toThrow('unsupported scheme ftp:');
    expect(() => cpythonCatalog({}, { uri: 'file:///x/interp.tar.gz', sha256: sha, version: '3.11' })).toThrow(/cannot tell the CPython version .* set BP_CPYTHON_VERSION to the exact version/);
  });

  it('the source: BP_CPYTHON_SOURCE, else catalog when it has entries, else apt', () => {
    expect(cpythonSourceKind(undefined, [])).toBe('apt');
    expect(cpythonSourceKind('', [entry('3.11.2')])).toBe('catalog');
    expect(cpythonSourceKind('APT', [entry('3.11.2')])).toBe('apt');
    expect(() => cpythonSourceKind('catalog', [])).toThrow(/BP_CPYTHON_SOURCE=catalog but there is no catalog entry/);
    expect(() => cpythonSourceKind('conda', [])).toThrow('BP_CPYTHON_SOURCE=conda: must be apt or catalog');
  });

  it('resolves the highest version satisfying the request; when none does, lists what the catalog has', () => {
    const catalog = [entry('3.10.14'), entry('3.11.2'), entry('3.11.9'), entry('3.13.0rc1')];
    expect(resolveCatalogPython({ constraint: '3.11', source: '.python-version' }, catalog)).toBe('3.11.9');
    expect(resolveCatalogPython({ constraint: '3.x', source: 'buildpack default' }, catalog)).toBe('3.11.9');
    expect(resolveCatalogPython({ constraint: '3.13.0rc1', source: 'BP_CPYTHON_VERSION' }, catalog)).toBe('3.13.0rc1');
    expect(resolveCatalogPython({ constraint: '>=3.10.0 <3.11.0', source: 'pyproject.toml requires-python "~=3.10.0"' }, catalog)).toBe('3.10.14');
    let message = '';
    try {
      resolveCatalogPython({ constraint: '>=3.12.0', source: 'pyproject.toml requires-python ">=3.12"' }, catalog);
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code?: string }).code).toBe('DEPENDENCY_UNRESOLVED');
    }
    expect(message).toContain('>=3.12.0');
    expect(message).toContain('requires-python');
    expect(message).toContain('The catalog has: 3.10.14, 3.11.2, 3.11.9, 3.13.0rc1');
    expect(message).toContain('BP_CPYTHON_DIST_URI');
  });
});

describe('a relocatable CPython tarball', () => {
  it('its root is the directory with bin/python3: top level, python/, python/install/ or install/', async () => {
    for (const prefix of ['', 'python', 'python/install', 'install']) {
      const d = temp('lading-cpython-root-');
      mkdirSync(join(d, prefix, 'bin'), { recursive: true });
      writeFileSync(join(d, prefix, 'bin', 'python3'), '');
      expect(await findPythonRoot(d, 'x.tar.gz')).toBe(join(d, prefix));
    }
    const empty = temp('lading-cpython-root-');
    mkdirSync(join(empty, 'python', 'lib'), { recursive: true });
    await expect(findPythonRoot(empty, 'file:///m/x.tar.gz')).rejects.toThrow(/file:\/\/\/m\/x\.tar\.gz: no bin\/python3 in the archive/);
  });

  it('ensurepip wheels are found by distribution name', async () => {
    const d = temp('lading-cpython-ensurepip-');
    const bundled = join(d, 'lib', 'python3.12', 'ensurepip', '_bundled');
    mkdirSync(bundled, { recursive: true });
    writeFileSync(join(bundled, 'pip-24.0-py3-none-any.whl'), '');
    writeFileSync(join(bundled, 'README.txt'), '');
    expect(await ensurepipWheels(d, '3.12')).toEqual({ pip: join(bundled, 'pip-24.0-py3-none-any.whl') });
    expect(await ensurepipWheels(d, '3.11')).toEqual({});
  });

  /** A tarball laid out like the standalone builds (python/bin/python3 → python3.11, lib/), whose "interpreter" is a script. */
  const fakeTarball = (version: string) => {
    const src = temp('lading-cpython-src-');
    const root = join(src, 'python');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'lib', 'python3.11', 'test'), { recursive: true });
    writeFileSync(join(root, 'lib', 'libpython3.11.so.1.0'), '');
    writeFileSync(join(root, 'bin', 'python3.11'), `#!/bin/sh\n# prints the version for the probe, succeeds for compileall\necho ${version}\necho "$PYTHONHOME" > "$PYTHONHOME/.home"\n`);
    chmodSync(join(root, 'bin', 'python3.11'), 0o755);
    symlinkSync('python3.11', join(root, 'bin', 'python3'));
    const file = join(temp('lading-cpython-dist-'), `cpython-${version}-x86_64-linux.tar.gz`);
    execFileSync('tar', ['-czf', file, '-C', src, 'python']);
    return { file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
  };
  const context = (env: Record<string, string> = {}, layersDir = temp('lading-cpython-layers-')) => {
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) };
    const ctx = {
      layers: new Layers(layersDir, { buildpack: { id: 'lading/python', version: '0.1.0', sbomFormats: ['application/vnd.cyclonedx+json'] } }),
      logger: new Logger({ stdout: sink, stderr: sink }),
      env,
      config: (n: string) => env[n],
    } as unknown as BuildContext;
    return { ctx, layersDir, log: () => out.join('') };
  };

  it('is verified, cached, extracted into the cpython layer, run from there with PYTHONHOME; the SBOM records URL, sha256, purl and CPE', async () => {
    const { file, sha256 } = fakeTarball('3.11.7');
    const uri = pathToFileURL(file).href;
    const catalog = cpythonCatalog({}, { uri, sha256 });
    const { ctx, layersDir, log } = context();
    let checked = false;
    const r = await contributeCatalogInterpreter(ctx, { constraint: '3.11', source: '.python-version' }, catalog, async () => {
      checked = true;
    });
    expect(checked).toBe(true);
    const layer = join(layersDir, 'cpython');
    expect(r.interpreter).toMatchObject({ version: '3.11.7', minor: '3.11', python: join(layer, 'bin', 'python3.11'), source: 'catalog', key: [`cpython=3.11.7 sha256:${sha256}`] });
    expect(r.interpreter.env).toEqual({ PYTHONHOME: layer, LD_LIBRARY_PATH: join(layer, 'lib') });
    expect(readlinkSync(join(layer, 'bin', 'python'))).toBe('python3.11');
    expect(readFileSync(join(layer, '.home'), 'utf8').trim()).toBe(layer);
    expect(existsSync(join(layer, 'lib', 'python3.11', 'test'))).toBe(false);
    expect(existsSync(join(layer, '.extract'))).toBe(false);
    expect(readFileSync(join(layer, 'env', 'PYTHONHOME.override'), 'utf8')).toBe(layer);
    expect(r.components[0]).toMatchObject({ name: 'cpython', version: '3.11.7', cpe: 'cpe:2.3:a:python:python:3.11.7:*:*:*:*:*:*:*', hashes: { sha256 }, downloadLocation: uri });
    expect(r.components[0]?.purl).toMatch(/^pkg:generic\/cpython@3\.11\.7\?download_url=file/);
    expect(existsSync(join(layersDir, 'download-cpython'))).toBe(true);
    expect(log()).toContain(`CPython 3.11.7 (catalog: ${uri}; requested "3.11" by .python-version)`);
    expect(log()).toContain(`Downloading cpython 3.11.7 (catalog: ${uri})`);
    const sbom = readFileSync(join(layersDir, 'cpython.sbom.cdx.json'), 'utf8');
    expect(sbom).toContain(sha256);
    expect(sbom).toContain(uri);

    // The next build (layer TOMLs written, directories kept as the cache restores them): nothing downloaded nor extracted.
    await ctx.layers.writeLayerTomls();
    rmSync(join(layer, '.home'));
    const next = context({}, layersDir);
    const again = await contributeCatalogInterpreter(next.ctx, { constraint: '3.11', source: '.python-version' }, catalog);
    expect(next.log()).toContain('Reusing layer cpython');
    expect(next.log()).not.toContain('Downloading cpython');
    expect(existsSync(join(layer, '.home'))).toBe(false);
    expect(again.interpreter).toEqual({ ...r.interpreter, layer: again.interpreter.layer });
  });

  it('a checksum mismatch fails naming the URL and both digests, and nothing is installed', async () => {
    const { file, sha256 } = fakeTarball('3.11.7');
    const uri = pathToFileURL(file).href;
    const wrong = 'c'.repeat(64);
    const { ctx, layersDir } = context();
    const err = await contributeCatalogInterpreter(ctx, { constraint: '3.11', source: 'BP_CPYTHON_VERSION' }, cpythonCatalog({}, { uri, sha256: wrong })).catch((e: unknown) => e as Error & { code?: string });
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('DEPENDENCY_INTEGRITY');
    expect((err as Error).message).toContain(uri);
    expect((err as Error).message).toContain(wrong);
    expect((err as Error).message).toContain(sha256);
    expect(existsSync(join(layersDir, 'cpython', 'bin'))).toBe(false);
  });

  it('a tarball whose interpreter is another version than its entry says is refused', async () => {
    const { file, sha256 } = fakeTarball('3.11.7');
    const { ctx } = context();
    const catalog = [{ name: 'cpython', version: '3.11.8', uri: pathToFileURL(file).href, sha256 }];
    await expect(contributeCatalogInterpreter(ctx, { constraint: '3.11', source: 'BP_CPYTHON_VERSION' }, catalog)).rejects.toThrow('the catalog says CPython 3.11.8, but its bin/python3 is 3.11.7');
  });
});

describe.skipIf(!requireTools('python3'))('pip from the interpreter\'s ensurepip', () => {
  it('the bundled wheels are unpacked into the build-only ensurepip layer and named in the build SBOM; none bundled: undefined', async () => {
    const root = temp('lading-cpython-layer-');
    const bundled = join(root, 'lib', 'python3.11', 'ensurepip', '_bundled');
    mkdirSync(bundled, { recursive: true });
    // A wheel is a zip: one with a module and its dist-info, made with Python's zipfile.
    const wheel = join(bundled, 'pip-99.1-py3-none-any.whl');
    execFileSync('python3', ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w"); z.writestr("pip/__init__.py", "__version__ = \'99.1\'\\n"); z.writestr("pip-99.1.dist-info/METADATA", "Metadata-Version: 2.1\\nName: pip\\nVersion: 99.1\\nClassifier: License :: OSI Approved :: MIT License\\n"); z.close()', wheel]);
    const layersDir = temp('lading-cpython-layers-');
    const out: string[] = [];
    const ctx = {
      layers: new Layers(layersDir, { buildpack: { id: 'lading/python', version: '0.1.0', sbomFormats: [] } }),
      logger: new Logger({ stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } }),
      env: {},
      config: () => undefined,
    } as unknown as BuildContext;
    const interp = { version: '3.11.7', minor: '3.11', python: 'python3', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, key: [], source: 'catalog', layer: { path: root } } as unknown as Interpreter;
    const own = await contributeEnsurepip(ctx, interp);
    const sha256 = createHash('sha256').update(readFileSync(wheel)).digest('hex');
    expect(own).toMatchObject({ pythonPath: join(layersDir, 'ensurepip', 'site-packages'), provides: ['pip'], key: [`pip=99.1 sha256:${sha256}`] });
    expect(own?.components).toEqual([{ name: 'pip', version: '99.1', purl: 'pkg:pypi/pip@99.1', hashes: { sha256 }, licenses: ['MIT'] }]);
    expect(readFileSync(join(layersDir, 'ensurepip', 'site-packages', 'pip', '__init__.py'), 'utf8')).toContain("'99.1'");
    rmSync(wheel);
    expect(await contributeEnsurepip(ctx, interp)).toBeUndefined();
  });
});
