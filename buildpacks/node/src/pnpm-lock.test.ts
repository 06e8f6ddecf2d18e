import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importerClosure, parsePnpmLock, pnpmComponents } from './pnpm-lock.js';

const FIXTURE = join(resolve(import.meta.dirname, '../../..'), 'test/fixtures/apps/node-pnpm/pnpm-lock.yaml');

describe('pnpm-lock.yaml (v9)', () => {
  const lock = parsePnpmLock(readFileSync(FIXTURE, 'utf8'), FIXTURE);

  it('reads the root importer, integrity and the snapshot graph', () => {
    expect(lock.importer.dependencies).toEqual({ 'is-number': '7.0.0' });
    expect(lock.importer.devDependencies).toEqual({ 'is-odd': '3.0.1' });
    expect(lock.graph['is-odd@3.0.1']).toEqual(['is-number@6.0.0']);
    expect(lock.integrity['is-number@7.0.0']).toMatch(/^sha512-/);
  });

  it('production closure without dev dependencies; with them, their dependencies too', () => {
    const prod = pnpmComponents(lock, true, { 'is-number@7.0.0': 'MIT' });
    expect(prod).toEqual([{ name: 'is-number', version: '7.0.0', purl: 'pkg:npm/is-number@7.0.0', licenses: ['MIT'], hashes: { sha512: expect.stringMatching(/^[0-9a-f]{128}$/) } }]);
    expect(pnpmComponents(lock, false).map((c) => `${c.name}@${c.version}`).sort()).toEqual(['is-number@6.0.0', 'is-number@7.0.0', 'is-odd@3.0.1']);
  });

  it('scoped names, peer suffixes and links', () => {
    const text = [
      "lockfileVersion: '9.0'", '', 'importers:', '  .:', '    dependencies:', "      '@s/a':", '        specifier: ^1', '        version: 1.0.0(b@2.0.0)',
      '      local:', '        specifier: link:../local', '        version: link:../local', '', 'packages:', "  '@s/a@1.0.0':", '    resolution: {integrity: sha512-AAAA}', '  b@2.0.0:', '    resolution: {integrity: sha512-BBBB}',
      '', 'snapshots:', "  '@s/a@1.0.0(b@2.0.0)':", '    dependencies:', '      b: 2.0.0', '  b@2.0.0: {}',
    ].join('\n');
    const c = pnpmComponents(parsePnpmLock(text, 'pnpm-lock.yaml'), true);
    expect(c.map((x) => x.purl).sort()).toEqual(['pkg:npm/%40s/a@1.0.0', 'pkg:npm/b@2.0.0']);
  });

  it('refuses other lockfile versions and unreadable lines, naming the file', () => {
    expect(() => parsePnpmLock("lockfileVersion: '6.0'\n", '/workspace/pnpm-lock.yaml')).toThrow('/workspace/pnpm-lock.yaml: only pnpm lockfile version 9 (pnpm 9 and later) is supported');
    expect(() => parsePnpmLock("lockfileVersion: '9.0'\n- oops\n", 'pnpm-lock.yaml')).toThrow('pnpm-lock.yaml line 2: cannot read "- oops"');
  });
});

describe('pnpm-lock.yaml of a workspace', () => {
  const file = join(resolve(import.meta.dirname, '../../..'), 'test/fixtures/apps/node-pnpm-workspace/pnpm-lock.yaml');
  const lock = parsePnpmLock(readFileSync(file, 'utf8'), file);

  it('reads every importer; the production closure covers all members and leaves out links and dev dependencies', () => {
    expect(Object.keys(lock.importers).sort()).toEqual(['.', 'packages/lib', 'packages/web', 'packages/worker']);
    expect(lock.importers['packages/web']!.dependencies).toEqual({ '@demo/lib': 'link:../lib', debug: '4.4.3' });
    expect(pnpmComponents(lock, true).map((c) => c.purl).sort()).toEqual(['pkg:npm/debug@4.4.3', 'pkg:npm/escape-html@1.0.3', 'pkg:npm/is-number@7.0.0', 'pkg:npm/ms@2.1.3']);
  });

  it('a selected member: the importers it links to for production, and only their closure in the SBOM', () => {
    expect(importerClosure(lock, 'packages/web')).toEqual(['packages/lib', 'packages/web']);
    expect(importerClosure(lock, 'packages/worker')).toEqual(['packages/worker']);
    expect(importerClosure(lock, 'packages/none')).toEqual([]);
    expect(pnpmComponents(lock, true, {}, importerClosure(lock, 'packages/web')).map((c) => c.purl).sort()).toEqual(['pkg:npm/debug@4.4.3', 'pkg:npm/is-number@7.0.0', 'pkg:npm/ms@2.1.3']);
    expect(pnpmComponents(lock, false, {}, ['packages/web']).map((c) => c.purl).sort()).toEqual(['pkg:npm/debug@4.4.3', 'pkg:npm/is-number@6.0.0', 'pkg:npm/is-odd@3.0.1', 'pkg:npm/ms@2.1.3']);
  });

  it('links are resolved relative to the importer, also to the root and across directories', () => {
    const text = [
      "lockfileVersion: '9.0'", '', 'importers:', '  .:', '    dependencies:', '      shared:', '        specifier: link:libs/shared', '        version: link:libs/shared',
      '  apps/api:', '    dependencies:', '      root:', '        specifier: workspace:*', '        version: link:../..', '      util:', '        specifier: workspace:*', '        version: link:../../libs/util',
      '    devDependencies:', '      kit:', '        specifier: workspace:*', '        version: link:../../libs/kit',
      '  libs/shared: {}', '  libs/util: {}', '  libs/kit: {}',
    ].join('\n');
    expect(importerClosure(parsePnpmLock(text, 'pnpm-lock.yaml'), 'apps/api')).toEqual(['.', 'apps/api', 'libs/shared', 'libs/util']);
  });
});
