import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImageFlavor } from './build.js';
import { goCatalog, resolveToolchain, toolchainKind } from './toolchain.js';

const hasGo = (() => {
  try {
    execFileSync('go', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('toolchain sources', () => {
  const sha = 'a'.repeat(64);
  it('catalog entries come from buildpack.toml and BP_GO_DIST_URI/SHA256 (version from the file name)', () => {
    const metadata = { dependencies: [{ id: 'go', version: '1.21.4', uri: 'file:///m/go1.21.4.tgz', sha256: sha }, { id: 'other', version: '1', uri: 'file:///x', sha256: sha }] };
    expect(goCatalog(metadata, {}).map((e) => e.version)).toEqual(['1.21.4']);
    const withEnv = goCatalog(metadata, { uri: 'https://mirror.invalid/dl/go1.22.5.linux-amd64.tar.gz', sha256: sha.toUpperCase() });
    expect(withEnv[0]).toMatchObject({ name: 'go', version: '1.22.5', sha256: sha, purl: 'pkg:golang/stdlib@1.22.5' });
    expect(() => goCatalog({}, { uri: 'file:///x.tgz' })).toThrow('BP_GO_DIST_URI and BP_GO_DIST_SHA256 go together');
    expect(() => goCatalog({}, { uri: 'file:///x.tgz', sha256: sha })).toThrow('cannot tell the Go version');
    expect(goCatalog({}, { uri: 'file:///x.tgz', sha256: sha, version: '1.22.1' })[0]?.version).toBe('1.22.1');
  });

  it('the source: BP_GO_TOOLCHAIN, else catalog when it has entries, else apt', () => {
    expect(toolchainKind({ kind: undefined, catalog: [], env: {} })).toBe('apt');
    expect(toolchainKind({ kind: '', catalog: [{ name: 'go', version: '1.22.0', uri: 'file:///x', sha256: sha }], env: {} })).toBe('catalog');
    expect(toolchainKind({ kind: 'HOST', catalog: [], env: {} })).toBe('host');
    expect(() => toolchainKind({ kind: 'brew', catalog: [], env: {} })).toThrow('BP_GO_TOOLCHAIN=brew: must be apt, catalog or host');
  });

  it('no satisfying version: lists what exists and how to point at another source', async () => {
    const catalog = ['1.20.14', '1.21.13', '1.22.5'].map((version) => ({ name: 'go', version, uri: `file:///m/go${version}.tgz`, sha256: sha }));
    const err = await resolveToolchain({ constraint: '>=1.23.0', source: 'go.mod go 1.23' }, { kind: 'catalog', catalog, env: {} }).catch((e: Error) => e);
    expect(String(err)).toContain('no available version of go (catalog) satisfies ">=1.23.0" (from go.mod go 1.23)');
    expect(String(err)).toContain('1.22.5');
    expect(String(err)).toContain('BP_GO_DIST_URI');
    expect(String(err)).toContain('BP_GO_TOOLCHAIN=host');
    const ok = await resolveToolchain({ constraint: '~1.21', source: 'BP_GO_VERSION' }, { kind: 'catalog', catalog, env: {} });
    expect(ok).toMatchObject({ version: '1.21.13', source: 'catalog', key: { source: 'catalog', version: '1.21.13', checksums: [`sha256:${sha}`] } });
  });

  it.skipIf(!hasGo)('the host go is recorded as such (host=true purl, its sha256) and gives GOROOT', async () => {
    const t = await resolveToolchain({ constraint: '1.x', source: 'buildpack default' }, { kind: 'host', catalog: [], env: process.env });
    expect(t.source).toBe('host');
    expect(t.components[0]?.purl).toMatch(/^pkg:generic\/go@1\.\d+(\.\d+)?\?host=true$/);
    expect(t.components[0]?.hashes?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const layerDir = mkdtempSync(join(tmpdir(), 'go-host-'));
    dirs.push(layerDir);
    const goroot = await t.install({ path: layerDir } as never);
    expect(goroot).toBe(execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim());
  });

  it('run image: static unless the user set CGO_ENABLED=1', () => {
    expect(runImageFlavor(undefined)).toBe('static');
    expect(runImageFlavor('0')).toBe('static');
    expect(runImageFlavor('1')).toBe('base');
  });
});
