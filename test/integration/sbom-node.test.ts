import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../support/tools.js';
import { flattenNpmLs, imageNpmPackages } from './node-sbom-recall.js';
import { copyFixture, nodeBuilder, nodeRunImage, type NodeBuild } from './node-stack.js';

/**
 * Issue 7's recall against an independent listing: every package `npm ls --all --omit=dev --json` reports for
 * the node-express fixture (installed on the host with `npm ci --omit=dev`) is a `pkg:npm/...@version`
 * component of the image SBOM `lading build` attaches, with the same version.
 */
describe.skipIf(!requireTools('npm', 'umoci', 'apt-get', 'dpkg-deb'))('Node.js image SBOM: recall against npm ls', () => {
  let tmp: string;
  let build: NodeBuild;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-sbom-node-'));
    build = nodeBuilder(await nodeRunImage(), join(tmp, 'home'), join(tmp, 'cache'));
  }, 600_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('every name@version of npm ls --all --omit=dev is a pkg:npm component of the CycloneDX image SBOM', async () => {
    const out = join(tmp, 'out');
    const r = await build(copyFixture('node-express', join(tmp, 'app')), out);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const npmComponents = await imageNpmPackages(`oci:${out}:app`, join(tmp, 'home'), join(tmp, 'sbom.cdx.json'));

    // The independent listing: the fixture installed on the host, as npm itself reports it.
    const host = copyFixture('node-express', join(tmp, 'host'));
    const npmEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts'], { cwd: host, env: npmEnv, stdio: 'pipe' });
    const listed = flattenNpmLs(JSON.parse(execFileSync('npm', ['ls', '--all', '--omit=dev', '--json'], { cwd: host, env: npmEnv, stdio: ['ignore', 'pipe', 'pipe'] }).toString()) as Parameters<typeof flattenNpmLs>[0]);
    expect(listed.length).toBeGreaterThan(50); // express 4 and its tree
    expect(listed.some((p) => p.startsWith('express@4.'))).toBe(true);
    expect(listed.some((p) => p.startsWith('is-number@'))).toBe(false); // a dev dependency: not in either
    expect(listed.filter((p) => !npmComponents.has(p))).toEqual([]);
    expect([...npmComponents].some((p) => p.startsWith('is-number@'))).toBe(false);
  }, 180_000);
});
