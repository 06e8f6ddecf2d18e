import { join } from 'node:path';
import semver from 'semver';
import { checkBuildpackApi } from './api-version.js';
import { readTextFile, parseToml, tomlFields, type TomlFields, type TomlTable } from './toml-file.js';

/** buildpack.toml problems are the buildpack author's; the message names the file and key. */
const CODE = 'CONTENT_INVALID' as const;

export interface Distro {
  name?: string;
  version?: string;
}

/** A runtime the buildpack supports; an absent field matches anything (buildpack.md "Targets"). */
export interface Target {
  os?: string;
  arch?: string;
  variant?: string;
  distros: Distro[];
}

/** Deprecated `[[stacks]]` (Buildpack API < 0.10), kept so old buildpacks still match targets. */
export interface Stack {
  id: string;
  mixins: string[];
}

/** One buildpack reference inside an `[[order.group]]`. */
export interface GroupEntry {
  id: string;
  /** Always set in buildpack.toml and order.toml; builder.toml and project.toml may leave it to the catalog. */
  version?: string;
  optional: boolean;
  execEnv?: string[];
}

/** An order: a list of groups to try, first match wins. */
export type Order = GroupEntry[][];

export interface License {
  type?: string;
  uri?: string;
}

export interface BuildpackInfo {
  id: string;
  version: string;
  name?: string;
  homepage?: string;
  description?: string;
  keywords: string[];
  licenses: License[];
  clearEnv: boolean;
  /** Declared SBOM media types, as written (parameters such as `;version=1.4` kept). */
  sbomFormats: string[];
  /** Execution environments the buildpack supports (`[[buildpack.exec-env]] name`); empty = all. */
  execEnv: string[];
}

export interface BuildpackDescriptor {
  /** Normalized Buildpack API version, e.g. `0.12`. */
  api: string;
  /** The buildpack's root directory. */
  dir: string;
  /** Path of the buildpack.toml this was read from (for messages). */
  file: string;
  kind: 'component' | 'composite';
  info: BuildpackInfo;
  /** The composite's order; empty for a component buildpack. */
  order: Order;
  targets: Target[];
  stacks: Stack[];
  metadata: TomlTable;
}

const ID_RE = /^[A-Za-z0-9./-]+$/;
const RESERVED_IDS = new Set(['app', 'config', 'generated', 'sbom']);

/** Validates a buildpack ID per buildpack.md "buildpack.toml"; returns a reason or undefined. */
export function invalidBuildpackId(id: string): string | undefined {
  if (!ID_RE.test(id)) return `buildpack id "${id}" may only contain letters, numbers, '.', '/' and '-'`;
  if (RESERVED_IDS.has(id)) return `buildpack id "${id}" is reserved`;
  return undefined;
}

/**
 * Validates a buildpack version: `X.Y.Z` without leading zeros. A semver pre-release or build suffix is
 * accepted too, because published buildpacks use them and nothing in the lifecycle depends on their absence.
 */
export function invalidBuildpackVersion(version: string): string | undefined {
  if (semver.valid(version) === version) return undefined;
  return `buildpack version "${version}" must be X.Y.Z (non-negative integers without leading zeros)`;
}

/** Parses the text of a buildpack.toml found at `file` (in buildpack directory `dir`). */
export function parseBuildpackDescriptor(text: string, file: string, dir: string): BuildpackDescriptor {
  const root = tomlFields(parseToml(text, file, CODE), file, CODE);
  const api = checkBuildpackApi(root.string('api'), file);
  const bp = root.table_('buildpack');
  const id = bp.string('id');
  const version = bp.string('version');
  const badId = invalidBuildpackId(id) ?? invalidBuildpackVersion(version);
  if (badId) bp.fail(badId);
  // Undeclarable media types are not refused here (the Go lifecycle accepts them too); an SBOM file of a
  // type lading cannot place is refused when the buildpack writes one (sbom-files.ts).
  const sbomFormats = bp.stringArray('sbom-formats');
  const info: BuildpackInfo = {
    id,
    version,
    keywords: bp.stringArray('keywords'),
    licenses: bp.tables('licenses').map((l) => dropUndefined({ type: l.optionalString('type'), uri: l.optionalString('uri') })),
    clearEnv: bp.boolean('clear-env'),
    sbomFormats,
    execEnv: bp.tables('exec-env').map((e) => e.string('name')),
  };
  for (const key of ['name', 'homepage', 'description'] as const) {
    const v = bp.optionalString(key);
    if (v !== undefined) info[key] = v;
  }
  const order = parseOrder(root, { requireVersion: true });
  const stacks = root.tables('stacks').map((s) => ({ id: s.string('id'), mixins: s.stringArray('mixins') }));
  if (order.length > 0 && stacks.length > 0) root.fail('a composite buildpack ([[order]]) must not declare [[stacks]]');
  for (const s of root.tables('stacks')) {
    if (s.optionalString('id') === '*' && s.stringArray('mixins').length > 0) s.fail(`${s.key('mixins')} must be empty when id is "*"`);
  }
  return {
    api,
    dir,
    file,
    kind: order.length > 0 ? 'composite' : 'component',
    info,
    order,
    targets: root.tables('targets').map(parseTarget),
    stacks,
    metadata: root.freeTable('metadata'),
  };
}

/** Reads `<dir>/buildpack.toml`. */
export async function readBuildpackDescriptor(dir: string): Promise<BuildpackDescriptor> {
  const file = join(dir, 'buildpack.toml');
  return parseBuildpackDescriptor(await readTextFile(file), file, dir);
}

function parseTarget(t: TomlFields): Target {
  return dropUndefined({
    os: t.optionalString('os'),
    arch: t.optionalString('arch'),
    variant: t.optionalString('variant'),
    distros: t.tables('distros').map((d) => dropUndefined({ name: d.optionalString('name'), version: d.optionalString('version') })),
  });
}

/**
 * Parses `[[order]] [[order.group]]` tables (buildpack.toml, order.toml, builder.toml share the shape).
 * With `requireVersion`, every entry must name a version (buildpack.md "Order", platform.md order.toml).
 */
export function parseOrder(root: TomlFields, opts: { requireVersion: boolean; key?: string }): Order {
  return root.tables(opts.key ?? 'order').map((o) => {
    const entries = o.tables('group').map((g) => {
      const id = g.string('id');
      const idProblem = invalidBuildpackId(id);
      if (idProblem) g.fail(`${g.key('id')}: ${idProblem}`);
      const entry: GroupEntry = { id, optional: g.boolean('optional') };
      const version = opts.requireVersion ? g.string('version') : g.optionalString('version');
      if (version !== undefined && version !== '') entry.version = version;
      const execEnv = g.optionalStringArray('exec-env');
      if (execEnv) entry.execEnv = execEnv;
      return entry;
    });
    if (entries.length === 0) o.fail(`${o.key('group')} must list at least one buildpack`);
    return entries;
  });
}

/**
 * The targets a buildpack supports, after the spec's defaults: declared `[[targets]]`; else translated
 * `[[stacks]]` (`*` matches anything, the bionic stack id becomes linux/amd64 ubuntu 18.04); else the OS
 * inferred from the executables present (`bin/build` → linux, `bin/build.bat|.exe` → windows).
 */
export function effectiveTargets(desc: BuildpackDescriptor, executables: { build: boolean; windowsBuild?: boolean }): Target[] {
  if (desc.targets.length > 0) return desc.targets;
  const fromStacks: Target[] = [];
  for (const s of desc.stacks) {
    if (s.id === '*') return [{ distros: [] }];
    if (s.id === 'io.buildpacks.stacks.bionic') {
      fromStacks.push({ os: 'linux', arch: 'amd64', distros: [{ name: 'ubuntu', version: '18.04' }] });
    }
  }
  if (fromStacks.length > 0) return fromStacks;
  if (executables.build) return [{ os: 'linux', distros: [] }];
  if (executables.windowsBuild) return [{ os: 'windows', distros: [] }];
  return [{ distros: [] }];
}

/** Whether a buildpack target matches a base image's target (buildpack.md "Targets"). */
export function targetSatisfies(bp: Target, image: { os?: string; arch?: string; variant?: string; distro?: Distro }): boolean {
  const same = (want: string | undefined, have: string | undefined) => want === undefined || want === '' || have === undefined || want === have;
  if (!same(bp.os, image.os) || !same(bp.arch, image.arch) || !same(bp.variant, image.variant)) return false;
  if (bp.distros.length === 0 || image.distro === undefined) return true;
  return bp.distros.some((d) => same(d.name, image.distro!.name) && same(d.version, image.distro!.version));
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

