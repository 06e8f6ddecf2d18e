import { posix } from 'node:path';
import { BuildpackError, npmPurl, type SbomComponent } from '../../lib/index.js';
import { sriHex } from './runtime.js';

/** What this buildpack reads from a pnpm-lock.yaml (lockfile v9): root dependencies, integrity, the graph. */
type ImporterDeps = Record<'dependencies' | 'devDependencies' | 'optionalDependencies', Record<string, string>>;

export interface PnpmLock {
  /** Root importer dependencies by group: name → version (peer suffix kept). */
  importer: ImporterDeps;
  /** Every importer (`.` and each workspace member's path) by its key. */
  importers: Record<string, ImporterDeps>;
  /** `name@version` → integrity. */
  integrity: Record<string, string>;
  /** Snapshot key (`name@version(peers)`) → its dependencies as snapshot keys. */
  graph: Record<string, string[]>;
}

const unquote = (s: string) => s.trim().replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1');
/** `is-number@7.0.0(peer@1)` → `is-number@7.0.0`. */
const withoutPeers = (key: string) => key.replace(/\(.*$/, '');

/**
 * Reads the parts of pnpm's lockfile v9 the SBOM needs. pnpm writes it in a fixed block layout (two spaces per
 * level), which is all this reader accepts; anything else is reported with the file and line.
 */
export function parsePnpmLock(text: string, file: string): PnpmLock {
  const empty = (): ImporterDeps => ({ dependencies: {}, devDependencies: {}, optionalDependencies: {} });
  const lock: PnpmLock = { importer: empty(), importers: {}, integrity: {}, graph: {} };
  lock.importers['.'] = lock.importer;
  if (!/^lockfileVersion: '?(9|[1-9]\d)\./m.test(text)) throw new BuildpackError('CONFIG', `${file}: only pnpm lockfile version 9 (pnpm 9 and later) is supported`);
  let section = '';
  let key = '';
  let group = '';
  let depName = '';
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const indent = line.length - line.trimStart().length;
    const m = /^(\s*)('[^']*'|"[^"]*"|[^:\s][^:]*?):(?:\s+(.*))?$/.exec(line);
    if (!m) throw new BuildpackError('CONFIG', `${file} line ${i + 1}: cannot read "${line.trim()}"`);
    const k = unquote(m[2]!);
    const value = m[3]?.trim();
    if (indent === 0) section = k;
    else if (indent === 2) {
      key = k;
      group = '';
      if (section === 'snapshots') lock.graph[key] = [];
      if (section === 'importers' && !lock.importers[key]) lock.importers[key] = empty();
    } else if (indent === 4) {
      group = k;
      if (section === 'packages' && k === 'resolution' && value) {
        const integrity = /integrity:\s*([^,}\s]+)/.exec(value)?.[1];
        if (integrity) lock.integrity[key] = integrity;
      }
    } else if (section === 'importers' && indent === 6) depName = k;
    else if (section === 'importers' && indent === 8 && k === 'version' && value && group in lock.importer) {
      lock.importers[key]![group as keyof ImporterDeps][depName] = unquote(value);
    } else if (section === 'snapshots' && indent === 6 && value && (group === 'dependencies' || group === 'optionalDependencies')) {
      lock.graph[key]!.push(`${k}@${unquote(value)}`);
    }
  });
  return lock;
}

/**
 * The importers `start` installs with `pnpm install --filter "{start}..." --prod`: itself and, transitively, the
 * workspace members its production dependencies link to (`link:../lib`, relative to the importer).
 */
export function importerClosure(lock: PnpmLock, start: string): string[] {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const k = todo.pop()!;
    if (seen.has(k) || !lock.importers[k]) continue;
    seen.add(k);
    for (const g of ['dependencies', 'optionalDependencies'] as const) {
      for (const v of Object.values(lock.importers[k]![g])) {
        if (!v.startsWith('link:')) continue;
        const target = posix.normalize(posix.join(k, v.slice('link:'.length)));
        todo.push(target === '' ? '.' : target);
      }
    }
  }
  return [...seen].sort();
}

/** `@scope/name@1.0.0` → [`@scope/name`, `1.0.0`]. */
function splitKey(key: string): [string, string] {
  const at = key.lastIndexOf('@');
  return at > 0 ? [key.slice(0, at), key.slice(at + 1)] : [key, ''];
}

/**
 * The packages pnpm installs for the root project and any workspace members: the closure of their
 * dependencies (and dev dependencies unless omitted) through the snapshot graph, each with a `pkg:npm` purl,
 * version and integrity. `licenses` maps `name@version` to the licence read from the installed package.json,
 * when known. Workspace links (`link:`) are the members' own sources, not packages.
 */
export function pnpmComponents(lock: PnpmLock, omitDev: boolean, licenses: Readonly<Record<string, string>> = {}, importers: readonly string[] = Object.keys(lock.importers)): SbomComponent[] {
  const groups = omitDev ? (['dependencies', 'optionalDependencies'] as const) : (['dependencies', 'optionalDependencies', 'devDependencies'] as const);
  const todo = importers.map((k) => lock.importers[k] ?? { dependencies: {}, devDependencies: {}, optionalDependencies: {} }).flatMap((imp) => groups.flatMap((g) => Object.entries(imp[g]).map(([name, version]) => `${name}@${version}`))).filter((k) => !k.includes('@link:'));
  const seen = new Set<string>();
  while (todo.length) {
    const k = todo.pop()!;
    if (seen.has(k)) continue;
    seen.add(k);
    todo.push(...(lock.graph[k] ?? []).filter((d) => !d.includes('@link:')));
  }
  const byPackage = new Map<string, SbomComponent>();
  for (const k of seen) {
    const pkg = withoutPeers(k);
    if (byPackage.has(pkg)) continue;
    const [name, version] = splitKey(pkg);
    const c: SbomComponent = { name, version, purl: npmPurl(name, version), licenses: licenses[pkg] ? [licenses[pkg]] : [] };
    const integrity = lock.integrity[pkg];
    if (integrity) c.hashes = sriHex(integrity);
    byPackage.set(pkg, c);
  }
  return [...byPackage.values()];
}
