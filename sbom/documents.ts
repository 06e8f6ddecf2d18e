import { andOperands, normalizeLicense, normalizeLicenses } from './licenses.js';
import type { Component, ComponentSource, ComponentType, Hash, License } from './model.js';

export type SbomFormat = 'cyclonedx' | 'spdx';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The format of a parsed SBOM document, by its marker fields. */
export function formatOf(doc: unknown): SbomFormat | undefined {
  if (!isObject(doc)) return undefined;
  if (doc.bomFormat === 'CycloneDX') return 'cyclonedx';
  if (typeof doc.spdxVersion === 'string' && doc.spdxVersion.startsWith('SPDX-')) return 'spdx';
  return undefined;
}

const CDX_TYPES = new Set<ComponentType>(['library', 'application', 'framework', 'operating-system', 'container', 'file', 'platform']);
const HASH_ALGS: Record<string, Hash['alg']> = { 'SHA-256': 'SHA-256', 'SHA-1': 'SHA-1', 'SHA-512': 'SHA-512', MD5: 'MD5', SHA256: 'SHA-256', SHA1: 'SHA-1', SHA512: 'SHA-512' };

function cdxLicenses(v: unknown): License[] {
  const out: License[] = [];
  for (const entry of arr(v)) {
    if (!isObject(entry)) continue;
    const raw = str(entry.expression) ?? (isObject(entry.license) ? str(entry.license.id) ?? str(entry.license.name) : undefined);
    const l = raw ? normalizeLicense(raw) : undefined;
    if (l) out.push(l);
  }
  return out;
}

/** Components of a CycloneDX JSON document (nested ones included; the root `metadata.component` is not one). */
export function cyclonedxComponents(doc: Json, source: ComponentSource): Component[] {
  const out: Component[] = [];
  const walk = (list: unknown): void => {
    for (const c of arr(list)) {
      if (!isObject(c) || !str(c.name)) continue;
      const type = CDX_TYPES.has(c.type as ComponentType) ? (c.type as ComponentType) : 'library';
      const hashes: Hash[] = [];
      for (const h of arr(c.hashes)) {
        if (isObject(h) && HASH_ALGS[String(h.alg)] && str(h.content)) hashes.push({ alg: HASH_ALGS[String(h.alg)]!, content: String(h.content) });
      }
      const properties = arr(c.properties).filter(isObject).filter((p) => str(p.name) && typeof p.value === 'string').map((p) => ({ name: String(p.name), value: String(p.value) }));
      const supplier = isObject(c.supplier) ? str(c.supplier.name) : undefined;
      out.push({
        name: String(c.name),
        ...(str(c.version) ? { version: String(c.version) } : {}),
        type,
        ...(str(c.group) ? { group: String(c.group) } : {}),
        ...(str(c.purl) ? { purl: String(c.purl) } : {}),
        ...(str(c.cpe) ? { cpe: String(c.cpe) } : {}),
        licenses: cdxLicenses(c.licenses),
        hashes,
        ...(supplier ? { supplier } : {}),
        properties,
        sources: [source],
      });
      walk(c.components);
    }
  };
  walk(doc.components);
  return out;
}

/**
 * `licenseDeclared` as licenses: NOASSERTION/NONE → none; each operand of a top-level AND that is a
 * `LicenseRef-x` of the document → its extracted text as a named license (UNLICENSED kept); an operand
 * mixing LicenseRefs with ids under OR → one named license with each ref replaced by its text; else the
 * SPDX expression. So `LicenseRef-a AND (MIT OR Apache-2.0)` becomes what was found: the text and the expression.
 */
function spdxLicenses(expr: string | undefined, extracted: ReadonlyMap<string, string>): License[] {
  if (!expr || expr === 'NOASSERTION' || expr === 'NONE') return [];
  if (!/LicenseRef-/.test(expr)) return normalizeLicenses([expr]);
  const out: License[] = [];
  for (const part of andOperands(expr)) {
    const text = extracted.get(part);
    if (text !== undefined) out.push(text === 'UNLICENSED' ? { kind: 'unlicensed' } : { kind: 'named', name: text });
    else if (/LicenseRef-/.test(part) && [...extracted.keys()].some((k) => part.includes(k))) {
      out.push({ kind: 'named', name: part.replace(/LicenseRef-[A-Za-z0-9.-]+/g, (ref) => extracted.get(ref) ?? ref) });
    } else out.push(...normalizeLicenses([part]));
  }
  return out;
}

/** Packages of an SPDX 2.x JSON document, except the ones the document describes that are not packages of an ecosystem (the root). */
export function spdxComponents(doc: Json, source: ComponentSource): Component[] {
  const extracted = new Map<string, string>();
  for (const e of arr(doc.hasExtractedLicensingInfos)) {
    if (isObject(e) && str(e.licenseId) && typeof e.extractedText === 'string') extracted.set(String(e.licenseId), e.extractedText);
  }
  const described = new Set<string>(arr(doc.documentDescribes).map(String));
  for (const r of arr(doc.relationships)) {
    if (isObject(r) && r.relationshipType === 'DESCRIBES' && r.spdxElementId === 'SPDXRef-DOCUMENT') described.add(String(r.relatedSpdxElement));
  }
  const out: Component[] = [];
  for (const p of arr(doc.packages)) {
    if (!isObject(p) || !str(p.name)) continue;
    const refs = arr(p.externalRefs).filter(isObject);
    const purl = str(refs.find((r) => r.referenceType === 'purl')?.referenceLocator);
    const cpe = str(refs.find((r) => r.referenceType === 'cpe23Type' || r.referenceType === 'cpe22Type')?.referenceLocator);
    // The image or app a document describes is its root, not one of its packages.
    if (p.primaryPackagePurpose === 'CONTAINER' || (!purl && described.has(String(p.SPDXID)))) continue;
    const declared = spdxLicenses(str(p.licenseDeclared), extracted);
    const licenses = declared.length ? declared : spdxLicenses(str(p.licenseConcluded), extracted);
    const hashes: Hash[] = [];
    for (const c of arr(p.checksums)) {
      if (isObject(c) && HASH_ALGS[String(c.algorithm)] && str(c.checksumValue)) hashes.push({ alg: HASH_ALGS[String(c.algorithm)]!, content: String(c.checksumValue) });
    }
    const supplier = str(p.supplier)?.replace(/^(Person|Organization|Tool):\s*/, '');
    const purpose = String(p.primaryPackagePurpose ?? '').toLowerCase().replace('_', '-');
    out.push({
      name: String(p.name),
      ...(str(p.versionInfo) ? { version: String(p.versionInfo) } : {}),
      type: CDX_TYPES.has(purpose as ComponentType) ? (purpose as ComponentType) : 'library',
      ...(purl ? { purl } : {}),
      ...(cpe ? { cpe } : {}),
      licenses,
      hashes,
      ...(supplier && supplier !== 'NOASSERTION' ? { supplier } : {}),
      properties: [],
      sources: [source],
    });
  }
  return out;
}

/** Components of a parsed SBOM document of either format. */
export function documentComponents(doc: unknown, source: ComponentSource): Component[] {
  const format = formatOf(doc);
  if (format === 'cyclonedx') return cyclonedxComponents(doc as Json, source);
  if (format === 'spdx') return spdxComponents(doc as Json, source);
  return [];
}
