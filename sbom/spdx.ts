import { createHash } from 'node:crypto';
import type { WriterOptions } from './cyclonedx.js';
import { documentTime, imagePurl, splitImageName, uuidV5 } from './identity.js';
import { spdxExpressionOf } from './licenses.js';
import { mergeComponents } from './merge.js';
import { componentKey, ecosystemOf, licenseText, type Component, type ComponentType, type License, type Sbom } from './model.js';

const IMAGE_ID = 'SPDXRef-Image';

/**
 * CycloneDX component type → SPDX 2.3 primaryPackagePurpose (the schema's enum). SPDX has no PLATFORM: a
 * runtime (CycloneDX `platform`, e.g. a Node or Python interpreter) is an executable program, APPLICATION.
 */
const PURPOSE: Record<ComponentType, string> = {
  library: 'LIBRARY',
  application: 'APPLICATION',
  framework: 'FRAMEWORK',
  'operating-system': 'OPERATING_SYSTEM',
  container: 'CONTAINER',
  file: 'FILE',
  platform: 'APPLICATION',
};

/** `[A-Za-z0-9.-]+` only (SPDX 2.3 §3.2). */
function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

/** A unique, stable SPDXID: readable prefix plus a short hash of the component's identity. */
function packageId(c: Component): string {
  const hash = createHash('sha256').update(componentKey(c)).digest('hex').slice(0, 12);
  return `SPDXRef-Package-${sanitize(`${ecosystemOf(c)}-${c.name}-${c.version ?? ''}`).slice(0, 80)}-${hash}`;
}

/** `LicenseRef-…` for text that is not SPDX (its text kept in hasExtractedLicensingInfos). */
function licenseRef(l: License): string {
  const text = licenseText(l);
  return `LicenseRef-${sanitize(text).slice(0, 40)}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
}

/**
 * Every `LicenseRef-…` an expression names needs a hasExtractedLicensingInfos entry (SPDX 2.3 §10.1); one that
 * came without its text (a CycloneDX expression) gets an entry saying so.
 */
function withExtracted(expression: string, extracted: Map<string, string>): string {
  for (const ref of expression.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? []) {
    if (!extracted.has(ref)) extracted.set(ref, `${ref} (its text was not in the SBOM it was found in)`);
  }
  return expression;
}

function declared(licenses: readonly License[], extracted: Map<string, string>): string {
  if (licenses.length === 0) return 'NOASSERTION';
  const spdx = spdxExpressionOf(licenses);
  if (spdx !== undefined) return withExtracted(spdx, extracted);
  const parts = licenses.map((l) => {
    if (l.kind === 'spdx') return withExtracted(/\s(AND|OR)\s/.test(l.expression) ? `(${l.expression})` : l.expression, extracted);
    const ref = licenseRef(l);
    extracted.set(ref, l.kind === 'unlicensed' ? 'UNLICENSED' : l.name);
    return ref;
  });
  return parts.join(' AND ');
}

/** SPDX `supplier`: `Organization: …` with the e-mail in parentheses (the spec's form). */
function supplier(text: string): string {
  return `Organization: ${text.replace(/\s*<([^>]*)>/, ' ($1)')}`;
}

/**
 * The image SBOM as SPDX 2.3 JSON: the image is the described package (SPDXRef-Image, versionInfo = the
 * manifest digest) that CONTAINS every other package; documentNamespace a UUID v5 of the digest, created the
 * image's `created`. Licenses that are not SPDX are LicenseRef-… with their text in hasExtractedLicensingInfos.
 */
export function writeSpdx(sbom: Sbom, options: WriterOptions = {}): string {
  const tool = options.tool ?? { name: 'lading', version: '0.0.0' };
  const extracted = new Map<string, string>();
  const components = mergeComponents(sbom.components);
  const ids = components.map(packageId);
  const { repository } = splitImageName(sbom.subject.name);
  const rootPurl = imagePurl(sbom.subject);
  const packages: Record<string, unknown>[] = [{
    SPDXID: IMAGE_ID,
    name: sbom.subject.name,
    versionInfo: sbom.subject.digest,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    checksums: [{ algorithm: 'SHA256', checksumValue: sbom.subject.digest.replace(/^sha256:/, '') }],
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: rootPurl }],
    primaryPackagePurpose: 'CONTAINER',
  }];
  components.forEach((c, i) => {
    const pkg: Record<string, unknown> = { SPDXID: ids[i], name: c.group ? `${c.group}/${c.name}` : c.name };
    if (c.version !== undefined) pkg.versionInfo = c.version;
    if (c.supplier) pkg.supplier = supplier(c.supplier);
    pkg.downloadLocation = 'NOASSERTION';
    pkg.filesAnalyzed = false;
    const sums = c.hashes.map((h) => ({ algorithm: h.alg.replace('-', ''), checksumValue: h.content }));
    if (sums.length) pkg.checksums = sums;
    pkg.licenseConcluded = 'NOASSERTION';
    pkg.licenseDeclared = declared(c.licenses, extracted);
    if (c.licenses.some((l) => l.kind !== 'spdx')) pkg.licenseComments = `as found: ${c.licenses.map(licenseText).join('; ')}`;
    pkg.copyrightText = 'NOASSERTION';
    const refs: Record<string, string>[] = [];
    if (c.cpe) refs.push({ referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: c.cpe });
    if (c.purl) refs.push({ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: c.purl });
    if (refs.length) pkg.externalRefs = refs;
    const found = c.sources.map((s) => [s.buildpack, s.layer].filter(Boolean).join('/')).filter(Boolean);
    if (found.length) pkg.sourceInfo = `found in: ${[...new Set(found)].join(', ')}`;
    pkg.primaryPackagePurpose = PURPOSE[c.type] ?? 'OTHER';
    packages.push(pkg);
  });
  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: IMAGE_ID },
    ...[...ids].sort().map((id) => ({ spdxElementId: IMAGE_ID, relationshipType: 'CONTAINS', relatedSpdxElement: id })),
  ];
  const doc: Record<string, unknown> = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${sbom.subject.name}@${sbom.subject.digest}`,
    documentNamespace: `https://spdx.org/spdxdocs/lading/${sanitize(repository)}-${uuidV5(`lading:spdx:${sbom.subject.digest}`)}`,
    creationInfo: { created: documentTime(sbom.subject.created), creators: [`Tool: ${tool.name}-${tool.version}`] },
    documentDescribes: [IMAGE_ID],
    packages,
    relationships,
  };
  if (extracted.size) {
    doc.hasExtractedLicensingInfos = [...extracted].sort(([a], [b]) => (a < b ? -1 : 1)).map(([licenseId, extractedText]) => ({ licenseId, extractedText, name: extractedText }));
  }
  return `${JSON.stringify(doc, null, 2)}\n`;
}
