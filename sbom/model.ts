/**
 * lading's component model: what every collector produces and every writer reads. Plain data; collectors,
 * merge and the writers are functions over it.
 */

/**
 * A component's license as found, normalized (licenses.ts):
 * - `spdx`: a valid SPDX license id or expression (checked against spdx-license-ids and the expression parser);
 * - `named`: not SPDX (raw text kept as found, e.g. "SEE LICENSE IN LICENSE.txt", a DEP-5 custom name);
 * - `unlicensed`: npm's UNLICENSED (proprietary, no license granted) — not the Unlicense.
 */
export type License =
  | { kind: 'spdx'; expression: string }
  | { kind: 'named'; name: string }
  | { kind: 'unlicensed' };

export interface Hash {
  /** CycloneDX spelling: SHA-256, SHA-1, SHA-512, MD5. */
  alg: 'SHA-256' | 'SHA-1' | 'SHA-512' | 'MD5';
  content: string;
}

/** Where a component was found. */
export interface ComponentSource {
  /** `os` for the run image's dpkg records, else the buildpack id that wrote the SBOM file. */
  buildpack?: string;
  /** The buildpack's layer (absent for launch-level SBOMs and OS packages). */
  layer?: string;
  /** The file or record it came from (`/var/lib/dpkg/status.d/libc6`, `layers/sbom/launch/…/sbom.cdx.json`). */
  path?: string;
}

export type ComponentType = 'library' | 'application' | 'framework' | 'operating-system' | 'container' | 'file' | 'platform';

export interface Component {
  name: string;
  /** Absent when the source document had none (`sbom validate` reports it). */
  version?: string;
  type: ComponentType;
  /** Namespace/group (npm scope, Maven groupId) when the source gave one separately. */
  group?: string;
  purl?: string;
  cpe?: string;
  licenses: License[];
  hashes: Hash[];
  supplier?: string;
  /** Extra facts as name/value pairs (`lading:…`, or carried over from the source document). */
  properties: { name: string; value: string }[];
  sources: ComponentSource[];
}

/** The image an SBOM describes (its root component/package). */
export interface SbomSubject {
  /** The image reference as the user named it (without a digest). */
  name: string;
  /** The manifest digest (`sha256:…`). */
  digest: string;
  /** The image's `created`, used as the document timestamp. */
  created: string;
  /** `linux/amd64`, when known. */
  platform?: string;
}

export interface Sbom {
  subject: SbomSubject;
  components: Component[];
}

/** The ecosystem a component belongs to: its purl type, else `unknown`. */
export function ecosystemOf(c: Component): string {
  const m = /^pkg:([a-z0-9.+-]+)\//i.exec(c.purl ?? '');
  return m ? m[1]!.toLowerCase() : 'unknown';
}

/** A stable identity: the purl, else type/group/name@version. */
export function componentKey(c: Component): string {
  return c.purl ?? `${c.type}:${c.group ? `${c.group}/` : ''}${c.name}@${c.version ?? ''}`;
}

export function compareComponents(a: Component, b: Component): number {
  const ka = componentKey(a);
  const kb = componentKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The license as one display string (SPDX expression, raw name, or UNLICENSED). */
export function licenseText(l: License): string {
  return l.kind === 'spdx' ? l.expression : l.kind === 'named' ? l.name : 'UNLICENSED';
}
