import { createHash } from 'node:crypto';
import { classifyLicense, licenseRefsFor, type License } from './licenses.js';

/** One component of a layer, as a buildpack knows it. */
export interface SbomComponent {
  name: string;
  version: string;
  /** CycloneDX component type; default `library`. */
  type?: 'application' | 'framework' | 'library' | 'operating-system' | 'platform' | 'file';
  purl?: string;
  cpe?: string;
  /** Declared licences: SPDX ids, SPDX expressions, or raw text (kept and marked unknown). */
  licenses?: string[];
  /** Hex digests by algorithm. */
  hashes?: { sha1?: string; sha256?: string; sha512?: string };
  /** Where the component came from (a URL); NOASSERTION in SPDX when absent. */
  downloadLocation?: string;
  supplier?: string;
}

/** Who wrote the SBOM: recorded as the tool in both formats. */
export interface SbomTool {
  name: string;
  version: string;
}

export interface SbomOptions {
  /** Document name, e.g. `<buildpack id>/<layer>`. */
  name: string;
  tool: SbomTool;
  /** SOURCE_DATE_EPOCH (seconds) for SPDX's mandatory `created`; default 1980-01-01T00:00:01Z. */
  sourceDateEpoch?: number;
}

const CDX_ALG = { sha1: 'SHA-1', sha256: 'SHA-256', sha512: 'SHA-512' } as const;
const SPDX_ALG = { sha1: 'SHA1', sha256: 'SHA256', sha512: 'SHA512' } as const;
const HASH_ORDER = ['sha1', 'sha256', 'sha512'] as const;

function componentKey(c: SbomComponent): string {
  return `${c.purl ?? ''}\u0000${c.name}\u0000${c.version}`;
}

/** Components sorted bytewise by purl, name and version, exact duplicates removed. */
export function sortedComponents(components: readonly SbomComponent[]): SbomComponent[] {
  const byKey = new Map<string, SbomComponent>();
  for (const c of components) if (!byKey.has(componentKey(c))) byKey.set(componentKey(c), c);
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** A UUID (version 5 layout) derived from content, so the same input always gives the same serial. */
export function contentUuid(value: unknown): string {
  const h = digest(value);
  const variant = ((parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function classified(c: SbomComponent): License[] {
  return (c.licenses ?? []).filter((l) => l.trim() !== '').map(classifyLicense);
}

/** LicenseRef ids for every unknown licence text of the components (the same in both documents of a layer). */
function licenseRefs(components: readonly SbomComponent[]): Map<string, string> {
  return licenseRefsFor(components.flatMap((c) => classified(c).flatMap((l) => (l.kind === 'unknown' ? [l.text] : []))));
}

/**
 * CycloneDX licences: ids, and unknown text as a named licence carrying the text itself (`license.text`);
 * with an SPDX expression among them, one expression (CycloneDX cannot mix the two forms, and an expression
 * has no text: its LicenseRef's text is in the layer's SPDX file).
 */
function cdxLicenses(c: SbomComponent, refs: ReadonlyMap<string, string>): unknown[] | undefined {
  const ls = classified(c);
  if (ls.length === 0) return undefined;
  if (ls.length === 1 && ls[0]?.kind === 'expression') return [{ expression: ls[0].expression }];
  if (ls.every((l) => l.kind !== 'expression')) {
    return ls.map((l) => (l.kind === 'id' ? { license: { id: l.id } } : { license: { name: l.text, text: { contentType: 'text/plain', content: l.text } } }));
  }
  return [{ expression: spdxExpression(ls, refs) }];
}

/** True when the outer parentheses of `e` enclose all of it. */
function wrapped(e: string): boolean {
  if (!e.startsWith('(') || !e.endsWith(')')) return false;
  let depth = 0;
  for (let i = 0; i < e.length; i++) {
    depth += e[i] === '(' ? 1 : e[i] === ')' ? -1 : 0;
    if (depth === 0 && i < e.length - 1) return false;
  }
  return true;
}

function spdxExpression(ls: readonly License[], refs: ReadonlyMap<string, string>): string {
  const ref = (text: string) => refs.get(text) as string;
  if (ls.length === 1) {
    const l = ls[0] as License;
    return l.kind === 'id' ? l.id : l.kind === 'expression' ? l.expression : ref(l.text);
  }
  const parts = ls.map((l) =>
    l.kind === 'id' ? l.id : l.kind === 'expression' ? (wrapped(l.expression) ? l.expression : `(${l.expression})`) : ref(l.text),
  );
  return parts.join(' AND ');
}

/** A CycloneDX 1.6 JSON document for the components; no timestamp, serial number derived from content. */
export function cycloneDxDocument(components: readonly SbomComponent[], opts: SbomOptions): Record<string, unknown> {
  const refIds = licenseRefs(components);
  const comps = sortedComponents(components).map((c) => {
    const out: Record<string, unknown> = { type: c.type ?? 'library', 'bom-ref': c.purl ?? `${c.name}@${c.version}` };
    if (c.supplier) out['supplier'] = { name: c.supplier };
    out['name'] = c.name;
    out['version'] = c.version;
    const hashes = HASH_ORDER.filter((a) => c.hashes?.[a]).map((a) => ({ alg: CDX_ALG[a], content: c.hashes?.[a] }));
    if (hashes.length) out['hashes'] = hashes;
    const licenses = cdxLicenses(c, refIds);
    if (licenses) out['licenses'] = licenses;
    if (c.cpe) out['cpe'] = c.cpe;
    if (c.purl) out['purl'] = c.purl;
    if (c.downloadLocation) out['externalReferences'] = [{ type: 'distribution', url: c.downloadLocation }];
    return out;
  });
  const body = {
    metadata: {
      tools: { components: [{ type: 'application', name: opts.tool.name, version: opts.tool.version }] },
      component: { type: 'application', 'bom-ref': opts.name, name: opts.name },
    },
    components: comps,
  };
  return { bomFormat: 'CycloneDX', specVersion: '1.6', serialNumber: `urn:uuid:${contentUuid(body)}`, version: 1, ...body };
}

function spdxId(prefix: string, text: string): string {
  return `SPDXRef-${prefix}-${text.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60)}-${digest(text).slice(0, 8)}`;
}

function creationTime(epoch: number | undefined): string {
  const ms = epoch !== undefined && Number.isFinite(epoch) ? epoch * 1000 : Date.UTC(1980, 0, 1, 0, 0, 1);
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An SPDX 2.3 JSON document; namespace derived from content, `created` fixed (SOURCE_DATE_EPOCH or 1980). */
export function spdxDocument(components: readonly SbomComponent[], opts: SbomOptions): Record<string, unknown> {
  const refIds = licenseRefs(components);
  const extracted = new Map<string, string>();
  const packages = sortedComponents(components).map((c) => {
    const ls = classified(c);
    for (const l of ls) if (l.kind === 'unknown') extracted.set(refIds.get(l.text) as string, l.text);
    const pkg: Record<string, unknown> = {
      SPDXID: spdxId('Package', componentKey(c)),
      name: c.name,
      versionInfo: c.version,
      supplier: c.supplier ? `Organization: ${c.supplier}` : 'NOASSERTION',
      downloadLocation: c.downloadLocation ?? 'NOASSERTION',
      filesAnalyzed: false,
    };
    const checksums = HASH_ORDER.filter((a) => c.hashes?.[a]).map((a) => ({ algorithm: SPDX_ALG[a], checksumValue: c.hashes?.[a] }));
    if (checksums.length) pkg['checksums'] = checksums;
    pkg['licenseConcluded'] = 'NOASSERTION';
    pkg['licenseDeclared'] = ls.length ? spdxExpression(ls, refIds) : 'NOASSERTION';
    pkg['copyrightText'] = 'NOASSERTION';
    const refs: unknown[] = [];
    if (c.cpe) refs.push({ referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: c.cpe });
    if (c.purl) refs.push({ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: c.purl });
    if (refs.length) pkg['externalRefs'] = refs;
    return pkg;
  });
  const body: Record<string, unknown> = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: opts.name,
    creationInfo: { created: creationTime(opts.sourceDateEpoch), creators: [`Tool: ${opts.tool.name}-${opts.tool.version}`] },
    packages,
    relationships: packages.map((p) => ({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: p['SPDXID'] })),
  };
  if (extracted.size) {
    body['hasExtractedLicensingInfos'] = [...extracted.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([licenseId, extractedText]) => ({ licenseId, extractedText, name: extractedText }));
  }
  const slug = opts.name.replace(/[^A-Za-z0-9.-]+/g, '-');
  return { ...body, documentNamespace: `https://lading.invalid/spdx/${slug}-${contentUuid(body)}` };
}

/** JSON text as written to disk: two-space indent, trailing newline. */
export function sbomJson(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
