import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lading } from '../support/cli.js';
import { cdxComponents, cyclonedxErrors } from '../support/sbom.js';
import { requireTools } from '../support/tools.js';
import { copyFixture, nodeBuilder, nodeRunImage, type NodeBuild } from './node-stack.js';

interface NpmNode { version?: string; dependencies?: Record<string, NpmNode> }

/** `npm ls --all --json`'s tree as sorted, unique `name@version` pairs (deduped entries carry their version too). */
function flatten(tree: NpmNode): string[] {
  const out = new Set<string>();
  const walk = (deps?: Record<string, NpmNode>) => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (node.version) out.add(`${name}@${node.version}`);
      walk(node.dependencies);
    }
  };
  walk(tree.dependencies);
  return [...out].sort();
}

/** `pkg:npm/%40scope/name@1.2.3?…` → `@scope/name@1.2.3`. */
function npmPurl(purl: string): string | undefined {
  const m = /^pkg:npm\/([^@?#]+)@([^?#]+)/.exec(purl);
  return m ? `${decodeURIComponent(m[1]!)}@${decodeURIComponent(m[2]!)}` : undefined;
}

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
    const file = join(tmp, 'sbom.cdx.json');
    const s = await lading(['sbom', `oci:${out}:app`, '--format', 'cyclonedx', '-o', file], { LADING_HOME: join(tmp, 'home') });
    expect(s.code, s.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(await cyclonedxErrors(text)).toEqual([]);
    const npmComponents = new Set(cdxComponents(JSON.parse(text)).map((c) => (c.purl ? npmPurl(c.purl) : undefined)).filter((p): p is string => !!p));

    // The independent listing: the fixture installed on the host, as npm itself reports it.
    const host = copyFixture('node-express', join(tmp, 'host'));
    const npmEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts'], { cwd: host, env: npmEnv, stdio: 'pipe' });
    const listed = flatten(JSON.parse(execFileSync('npm', ['ls', '--all', '--omit=dev', '--json'], { cwd: host, env: npmEnv, stdio: ['ignore', 'pipe', 'pipe'] }).toString()) as NpmNode);
    expect(listed.length).toBeGreaterThan(50); // express 4 and its tree
    expect(listed.some((p) => p.startsWith('express@4.'))).toBe(true);
    expect(listed.some((p) => p.startsWith('is-number@'))).toBe(false); // a dev dependency: not in either
    expect(listed.filter((p) => !npmComponents.has(p))).toEqual([]);
    expect([...npmComponents].some((p) => p.startsWith('is-number@'))).toBe(false);
  }, 180_000);
});
