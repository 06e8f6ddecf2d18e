import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { lading } from '../support/cli.js';
import { cdxComponents, cyclonedxErrors } from '../support/sbom.js';
import { copyFixture } from './node-stack.js';

/**
 * Issue 7's recall for Node.js images against an independent listing: the fixture is installed on the host
 * by its own package manager (production dependencies, no scripts), that manager lists what it installed,
 * and every listed `name@version` must be a `pkg:npm` component of the image SBOM with the same version.
 */
export type Manager = 'npm' | 'pnpm' | 'yarn-classic' | 'yarn-berry';

/** The package-manager CLIs the listings run: the host's npm, the others fetched by `npm exec` from the user's registry. */
const CLI: Record<Exclude<Manager, 'npm'>, string> = { pnpm: 'pnpm@10.34.8', 'yarn-classic': 'yarn@1.22.22', 'yarn-berry': '@yarnpkg/cli-dist@4.18.1' };

const quietNpm = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

/** `pkg:npm/%40scope/name@1.2.3?…` → `@scope/name@1.2.3`. */
export function npmPurlKey(purl: string): string | undefined {
  const m = /^pkg:npm\/([^@?#]+)@([^?#]+)/.exec(purl);
  return m ? `${decodeURIComponent(m[1]!)}@${decodeURIComponent(m[2]!)}` : undefined;
}

/** The `name@version` of every pkg:npm component of the image's CycloneDX SBOM (`lading sbom`), validated. */
export async function imageNpmPackages(image: string, home: string, file: string): Promise<Set<string>> {
  mkdirSync(dirname(file), { recursive: true });
  const s = await lading(['sbom', image, '--format', 'cyclonedx', '-o', file], { LADING_HOME: home });
  expect(s.code, s.stderr).toBe(0);
  const text = readFileSync(file, 'utf8');
  expect(await cyclonedxErrors(text)).toEqual([]);
  return new Set(cdxComponents(JSON.parse(text)).map((c) => (c.purl ? npmPurlKey(c.purl) : undefined)).filter((p): p is string => !!p));
}

interface NpmNode { version?: string; resolved?: string; dependencies?: Record<string, NpmNode> }

/** `npm ls --all --json`'s tree as unique `name@version` pairs; workspace members (directory links) are sources, not packages. */
export function flattenNpmLs(tree: NpmNode): string[] {
  const found: [string, NpmNode][] = [];
  const walk = (deps?: Record<string, NpmNode>) => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      found.push([name, node]);
      walk(node.dependencies);
    }
  };
  walk(tree.dependencies);
  // A member listed again inside another member carries no `resolved`: leave out every entry of a linked name.
  const links = new Set(found.filter(([, n]) => n.resolved?.startsWith('file:') && !/\.(tgz|tar\.gz|tar)$/.test(n.resolved)).map(([name]) => name));
  return [...new Set(found.filter(([name, n]) => n.version && !links.has(name)).map(([name, n]) => `${name}@${n.version}`))].sort();
}

interface PnpmNode { version: string; dependencies?: Record<string, PnpmNode> }

/** `pnpm ls -r --prod --json`: one entry per workspace project; `link:` versions are members, not packages. */
function flattenPnpmLs(projects: { dependencies?: Record<string, PnpmNode> }[]): string[] {
  const out = new Set<string>();
  const walk = (deps?: Record<string, PnpmNode>) => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (!node.version.startsWith('link:')) out.add(`${name}@${node.version}`);
      walk(node.dependencies);
    }
  };
  for (const p of projects) walk(p.dependencies);
  return [...out].sort();
}

interface YarnTree { name: string; shadow?: boolean; children?: YarnTree[] }

/** `yarn list --production --json` (yarn 1): `name@version` trees; shadow entries name ranges of hoisted packages. */
function flattenYarnList(doc: { data: { trees: YarnTree[] } }): string[] {
  const out = new Set<string>();
  const walk = (trees?: YarnTree[]) => {
    for (const t of trees ?? []) {
      if (!t.shadow) out.add(t.name);
      walk(t.children);
    }
  };
  walk(doc.data.trees);
  return [...out].sort();
}

/**
 * berry's node_modules/.yarn-state.yml: the locators it installed (`"name@npm:1.2.3":`, or
 * `"name@virtual:<hash>#npm:1.2.3":` for a package with peer dependencies); the root workspace left out.
 */
function yarnStatePackages(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/^"?((?:@[^/@"]+\/)?[^@"]+)@(?:virtual:[^#"]+#)?npm:([^":]+)"?:\s*$/gm)) out.add(`${m[1]}@${m[2]}`);
  return [...out].sort();
}

/** What the fixture's own package manager installs for production, installed in a copy under `dir`. */
export function listedPackages(manager: Manager, fixture: string, dir: string): string[] {
  const app = copyFixture(fixture, dir);
  const env = { ...process.env, ...quietNpm, CI: 'true' };
  const run = (argv: string[], extra: Record<string, string> = {}) => execFileSync(argv[0]!, argv.slice(1), { cwd: app, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).toString();
  const exec = (m: Exclude<Manager, 'npm'>, bin: string, args: string[], extra?: Record<string, string>) => run(['npm', 'exec', '--yes', `--package=${CLI[m]}`, '--', bin, ...args], extra);
  switch (manager) {
    case 'npm':
      run(['npm', 'ci', '--omit=dev', '--ignore-scripts']);
      return flattenNpmLs(JSON.parse(run(['npm', 'ls', '--all', '--omit=dev', '--json'])) as NpmNode);
    case 'pnpm':
      exec('pnpm', 'pnpm', ['install', '--frozen-lockfile', '--prod', '--ignore-scripts', '--store-dir', join(dir, '..', `${fixture}-pnpm-store`)]);
      return flattenPnpmLs(JSON.parse(exec('pnpm', 'pnpm', ['ls', '-r', '--prod', '--depth', 'Infinity', '--json'])) as { dependencies?: Record<string, PnpmNode> }[]);
    case 'yarn-classic':
      exec('yarn-classic', 'yarn', ['install', '--frozen-lockfile', '--production', '--ignore-scripts', '--non-interactive', '--cache-folder', join(dir, '..', `${fixture}-yarn-cache`)]);
      return flattenYarnList(JSON.parse(exec('yarn-classic', 'yarn', ['list', '--production', '--json'])) as { data: { trees: YarnTree[] } });
    case 'yarn-berry': {
      const registry = run(['npm', 'config', 'get', 'registry']).trim();
      const yarnEnv = { YARN_NPM_REGISTRY_SERVER: registry.replace(/\/$/, ''), YARN_ENABLE_GLOBAL_CACHE: 'false', YARN_CACHE_FOLDER: join(dir, '..', `${fixture}-berry-cache`), YARN_ENABLE_TELEMETRY: 'false', YARN_ENABLE_SCRIPTS: 'false' };
      exec('yarn-berry', 'yarn', ['workspaces', 'focus', '--all', '--production'], yarnEnv);
      return yarnStatePackages(readFileSync(join(app, 'node_modules', '.yarn-state.yml'), 'utf8'));
    }
  }
}

/** Asserts the recall: every listed package is in the image SBOM; returns the listing for further checks. */
export async function expectRecall(opts: { image: string; home: string; manager: Manager; fixture: string; work: string }): Promise<string[]> {
  const inImage = await imageNpmPackages(opts.image, opts.home, join(opts.work, `${opts.fixture}.cdx.json`));
  const listed = listedPackages(opts.manager, opts.fixture, join(opts.work, `${opts.fixture}-host`));
  expect(listed.filter((p) => !inImage.has(p)), `in the ${opts.manager} listing of ${opts.fixture} but not in the image SBOM`).toEqual([]);
  return listed;
}
