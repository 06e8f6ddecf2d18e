import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AptSource, debianSemver, debPurl, parseAptRecords } from './apt-source.js';
import { hashFile } from './integrity.js';
import { resolveVersion } from './resolve.js';

const IN_CI = process.env['CI'] === 'true';
const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

describe('apt record parsing', () => {
  it('splits records and folds continuation lines', () => {
    const recs = parseAptRecords('Package: a\nVersion: 1:2.0-1\nDescription: one\n two\n\nPackage: a\nVersion: 1.0-1\nSHA256: ff\n');
    expect(recs).toEqual([
      { Package: 'a', Version: '1:2.0-1', Description: 'one\ntwo' },
      { Package: 'a', Version: '1.0-1', SHA256: 'ff' },
    ]);
    expect(debPurl('busybox-static', '1:1.35.0-4', 'amd64', { id: 'debian', versionId: '12' })).toBe(
      'pkg:deb/debian/busybox-static@1%3A1.35.0-4?arch=amd64&distro=debian-12',
    );
  });
});

const hasApt = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v apt-cache && command -v apt-get && command -v dpkg'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * NETWORK: Debian's archive through this machine's apt configuration (apt-get update must have run).
 * Skipped without apt outside CI; under CI=true missing apt or an unreachable archive fails.
 */
describe('AptSource with the machine’s apt (network)', () => {
  const apt = new AptSource();
  let versions: string[] = [];
  let problem: unknown;
  beforeAll(async () => {
    if (!hasApt) {
      problem = new Error('apt-cache/apt-get/dpkg are not installed');
      return;
    }
    try {
      versions = await apt.versions('busybox-static');
    } catch (err) {
      problem = err;
    }
  });
  const ready = (ctx: { skip: (note?: string) => void }) => {
    if (problem === undefined) return;
    if (IN_CI) throw new Error(`the apt source is unusable under CI: ${(problem as Error).message}`);
    ctx.skip(`apt unusable: ${(problem as Error).message}`);
  };

  it('lists busybox-static versions (apt-cache madison) and resolves one by semver', (ctx) => {
    ready(ctx);
    expect(versions.length).toBeGreaterThan(0);
    const v = resolveVersion('busybox-static', versions, { constraint: '>=1.30', source: 'test' }, { semverOf: debianSemver });
    expect(versions).toContain(v);
    expect(() => resolveVersion('busybox-static', versions, { constraint: '^99', source: 'BP_X' }, { semverOf: debianSemver })).toThrow(
      `no available version of busybox-static satisfies "^99" (from BP_X); nearest available: ${versions.at(-1)}`,
    );
  });

  it('downloads it with apt-get download and verifies the SHA256 apt records', async (ctx) => {
    ready(ctx);
    const dir = await mkdtemp(join(tmpdir(), 'lading-apt-'));
    tmp.push(dir);
    const version = versions[0] as string;
    const got = await apt.fetch('busybox-static', version, dir);
    expect(got.checksum).toBe(`sha256:${got.sha256}`);
    expect((await hashFile(got.path, ['sha256'])).sha256).toBe(got.sha256);
    expect(got.purl).toMatch(/^pkg:deb\/debian\/busybox-static@.+\?arch=/);
    expect(got.source).toBe('apt');
    expect(await readdir(dir)).toEqual([got.path.slice(dir.length + 1)]);
    await expect(apt.describe('busybox-static', '0.0.0-no-such')).rejects.toThrow(/apt-cache show busybox-static=0.0.0-no-such failed|no record with a SHA256/);
  });

  it('with a memo, answers again without apt-cache while apt\'s lists and configuration are unchanged', async (ctx) => {
    ready(ctx);
    const memo = {};
    const first = new AptSource({ memo });
    const names = await first.packageNames('busybox', /^busybox-static$/);
    expect(names).toEqual(['busybox-static']);
    expect(await first.versions('busybox-static')).toEqual(versions);
    const described = await first.describe('busybox-static', versions[0] as string);
    expect(Object.keys(memo).sort()).toEqual(['answers', 'state']);

    // apt-config and dpkg work, apt-cache fails: only the memo can answer
    const bin = await mkdtemp(join(tmpdir(), 'lading-apt-bin-'));
    tmp.push(bin);
    for (const tool of ['apt-config', 'dpkg']) await symlink(execFileSync('sh', ['-c', `command -v ${tool}`]).toString().trim(), join(bin, tool));
    await writeFile(join(bin, 'apt-cache'), '#!/bin/sh\necho "apt-cache must not run" >&2\nexit 1\n');
    await chmod(join(bin, 'apt-cache'), 0o755);
    const env = { ...process.env, PATH: bin };
    const again = new AptSource({ memo, env });
    expect(await again.versions('busybox-static')).toEqual(versions);
    expect(await again.packageNames('busybox', /^busybox-static$/)).toEqual(names);
    expect(await again.describe('busybox-static', versions[0] as string)).toEqual(described);

    // another apt state (as after apt-get update): the memo is dropped and apt-cache asked
    (memo as Record<string, unknown>)['state'] = 'an older apt state';
    await expect(new AptSource({ memo, env }).versions('busybox-static')).rejects.toThrow(/apt-cache must not run/);
    expect((memo as Record<string, unknown>)['answers']).toEqual({});
  });
});
