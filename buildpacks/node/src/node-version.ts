import { selectVersionRequest, type VersionRequest } from '../../lib/index.js';
import type { NodeProject } from './project.js';

/** The Node.js major used when nothing asks for a version: the current LTS line (docs/buildpacks/node.md). */
export const DEFAULT_NODE_MAJOR = '24';

/** nvm's LTS code names, for `.nvmrc` files such as `lts/iron`. */
const LTS_NAMES: Readonly<Record<string, string>> = {
  argon: '4', boron: '6', carbon: '8', dubnium: '10', erbium: '12', fermium: '14',
  gallium: '16', hydrogen: '18', iron: '20', jod: '22', krypton: '24',
};

/**
 * A `.nvmrc` / `.node-version` line as a semver constraint: `v18.19.0` → `18.19.0`, `lts/iron` → `20`,
 * `lts/*` → the default LTS major, `node`/`latest`/`current`/`stable` → `*`. Comments and blank lines skipped.
 */
export function versionFileConstraint(text: string): string {
  const line = text.split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).find((l) => l !== '') ?? '';
  const lower = line.toLowerCase();
  if (lower === 'lts/*' || lower === 'lts') return DEFAULT_NODE_MAJOR;
  if (lower.startsWith('lts/')) return LTS_NAMES[lower.slice(4)] ?? line;
  if (['node', 'latest', 'current', 'stable'].includes(lower)) return '*';
  return line.replace(/^v(?=\d)/, '');
}

/** Most specific first: BP_NODE_VERSION > engines.node > .nvmrc > .node-version > the default LTS major. */
export function nodeVersionRequest(project: NodeProject, bpNodeVersion: string | undefined): VersionRequest {
  const candidates: (VersionRequest | undefined)[] = [
    bpNodeVersion !== undefined ? { constraint: bpNodeVersion, source: 'BP_NODE_VERSION' } : undefined,
    project.packageJson?.engines.node !== undefined ? { constraint: project.packageJson.engines.node, source: 'package.json engines.node' } : undefined,
    project.nvmrc !== undefined ? { constraint: versionFileConstraint(project.nvmrc), source: '.nvmrc' } : undefined,
    project.nodeVersionFile !== undefined ? { constraint: versionFileConstraint(project.nodeVersionFile), source: '.node-version' } : undefined,
  ];
  return selectVersionRequest(candidates) ?? { constraint: DEFAULT_NODE_MAJOR, source: 'buildpack default (current LTS)' };
}

/** The npm registry package holding Node.js for an architecture in Node's spelling (x64, arm64). */
export function runtimePackage(arch: string): string {
  if (arch !== 'x64' && arch !== 'arm64') throw new Error(`Node.js runtimes exist for x64 and arm64 only, not ${arch}`);
  return `node-linux-${arch}`;
}

/** The default npm line when BP_NPM_VERSION is unset: npm 10 runs on Node 18.17 and later. */
export const DEFAULT_NPM_VERSION = '10';

/** npm's version: BP_NPM_VERSION > the `packageManager` field's npm version > the default npm line. */
export function npmVersionRequest(bpNpmVersion: string | undefined, packageManagerVersion: string | undefined): VersionRequest {
  return (
    selectVersionRequest([
      bpNpmVersion !== undefined ? { constraint: bpNpmVersion, source: 'BP_NPM_VERSION' } : undefined,
      packageManagerVersion !== undefined ? { constraint: packageManagerVersion, source: 'package.json packageManager' } : undefined,
    ]) ?? { constraint: DEFAULT_NPM_VERSION, source: 'buildpack default' }
  );
}

/** The CPE NVD uses for Node.js. */
export function nodeCpe(version: string): string {
  return `cpe:2.3:a:nodejs:node.js:${version}:*:*:*:*:*:*:*`;
}
