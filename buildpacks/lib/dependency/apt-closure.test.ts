import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, mkdir, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aptClosure, installDebs, parseAptDepends, parseInstalledPackages, runImagePackages } from './apt-closure.js';

const IN_CI = process.env['CI'] === 'true';
const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lading-closure-'));
  tmp.push(d);
  return d;
}

describe('apt-cache depends parsing', () => {
  it('keeps alternatives together and records the providers of virtual packages', () => {
    const graph = parseAptDepends(
      [
        'app',
        '  PreDepends: libc6',
        ' |Depends: media-types',
        '  Depends: mime-support',
        '  Depends: <debconf-2.0>',
        '    cdebconf',
        '    debconf',
        'libc6',
        '  Depends: libgcc-s1',
        '<debconf-2.0>',
        'debconf',
      ].join('\n'),
    );
    expect(graph.get('app')).toEqual([
      [{ name: 'libc6', providers: [] }],
      [
        { name: 'media-types', providers: [] },
        { name: 'mime-support', providers: [] },
      ],
      [{ name: 'debconf-2.0', providers: ['cdebconf', 'debconf'] }],
    ]);
    expect(graph.has('debconf-2.0')).toBe(false);
    expect(graph.get('debconf')).toEqual([]);
  });

  it('reads installed packages and what they provide from dpkg status records', () => {
    const installed = parseInstalledPackages(
      'Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: debconf\nVersion: 1.5\nProvides: debconf-2.0, debconf (= 1.5)\n',
      'test',
    );
    expect([...installed.versions]).toEqual([
      ['libc6', '2.36-9'],
      ['debconf', '1.5'],
    ]);
    expect([...installed.provides].sort()).toEqual(['debconf', 'debconf-2.0']);
  });

  it('reads the run image list the lifecycle provides, and names the file when the flavor is missing', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'base.status'), 'Package: zlib1g\nVersion: 1:1.2.13\n');
    const base = await runImagePackages({ LADING_RUN_IMAGE_PACKAGES: dir });
    expect(base.versions.get('zlib1g')).toBe('1:1.2.13');
    expect(base.source).toBe(join(dir, 'base.status'));
    await expect(runImagePackages({ LADING_RUN_IMAGE_PACKAGES: dir }, 'static')).rejects.toThrow(/static\.status: no package list for the run image flavor "static" \(the builder has: base\)/);
    expect((await runImagePackages({})).source).toBe('fallback');
  });
});

const hasApt = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v apt-cache && command -v apt-get && command -v dpkg-deb'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** NETWORK: Debian's archive through this machine's apt configuration. Under CI=true a missing apt fails. */
describe.skipIf(!hasApt && !IN_CI)('the closure of real Debian packages (NETWORK)', () => {
  it('leaves out what the run image has and follows the rest', { timeout: 300_000 }, async () => {
    if (!hasApt) throw new Error('apt-cache, apt-get and dpkg-deb are required (CI=true)');
    const runImage = parseInstalledPackages('Package: libc6\nVersion: x\n\nPackage: zlib1g\nVersion: x\n\nPackage: libgcc-s1\nVersion: x\n', 'run');
    const debs = await aptClosure(['python3.11-minimal'], { installed: runImage });
    const names = debs.map((d) => d.name);
    expect(names).toContain('python3.11-minimal');
    expect(names).toContain('libpython3.11-minimal');
    expect(names).toContain('libexpat1');
    expect(names).not.toContain('libc6');
    expect(names).not.toContain('zlib1g');
    expect(names).toEqual([...names].sort());
    for (const d of debs) expect(d.sha256).toMatch(/^[0-9a-f]{64}$/);
    // without a run image list, Debian's required packages (libc6 among them) count as present
    const fallback = (await aptClosure(['python3.11-minimal'], { installed: { versions: new Map(), provides: new Set(), source: 'fallback' } })).map((d) => d.name);
    expect(fallback).not.toContain('libc6');
    expect(fallback).toContain('libexpat1');
    // a root the run image has is left out like any dependency it has
    expect((await aptClosure(['python3.11-minimal', 'zlib1g'], { installed: runImage })).map((d) => d.name)).toEqual(names);
    // an excluded package is neither included nor followed
    expect((await aptClosure(['python3.11-minimal'], { installed: runImage, exclude: ['libpython3.11-minimal'] })).map((d) => d.name)).not.toContain('libssl3');
  });

  it('downloads, verifies and extracts into a layer-like directory, relinking absolute symlinks', { timeout: 300_000 }, async () => {
    if (!hasApt) throw new Error('apt-cache, apt-get and dpkg-deb are required (CI=true)');
    const dir = await tempDir();
    const cache = join(dir, 'cache');
    const dest = join(dir, 'layer');
    const runImage = parseInstalledPackages('Package: libc6\nVersion: x\n\nPackage: zlib1g\nVersion: x\n\nPackage: libgcc-s1\nVersion: x\n\nPackage: libssl3\nVersion: x\n', 'run');
    const debs = await aptClosure(['python3.11-minimal'], { installed: runImage });
    const described = await installDebs(debs, dest, { cacheDir: cache, exclude: ['./usr/share/doc', './usr/share/man'] });
    expect(described.map((d) => d.name)).toEqual(debs.map((d) => d.name));
    expect(described[0]?.purl).toMatch(/^pkg:deb\/debian\/[^@]+@.+\?arch=/);
    expect((await lstat(join(dest, 'usr/bin/python3.11'))).isFile()).toBe(true);
    expect(await lstat(join(dest, 'usr/share/doc')).catch(() => undefined)).toBeUndefined();
    // the interpreter runs from the extracted tree
    const out = execFileSync(join(dest, 'usr/bin/python3.11'), ['-S', '-c', 'import sys; print(sys.version_info[:2])'], {
      env: { PYTHONHOME: join(dest, 'usr'), LD_LIBRARY_PATH: join(dest, 'usr/lib/x86_64-linux-gnu') },
    }).toString();
    expect(out.trim()).toBe('(3, 11)');
    // no absolute symlink points into the package tree any more
    const walk = async (d: string): Promise<string[]> => {
      const found: string[] = [];
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) found.push(...(await walk(p)));
        else if (e.isSymbolicLink() && (await readlink(p)).startsWith('/usr/')) found.push(p);
      }
      return found;
    };
    expect(await walk(dest)).toEqual([]);
    // a second install finds the verified .debs in the cache and downloads nothing
    const before = (await readdir(cache)).sort();
    await mkdir(join(dir, 'again'));
    await installDebs(debs, join(dir, 'again'), { cacheDir: cache });
    expect((await readdir(cache)).sort()).toEqual(before);
  });
});
