import { imagePurl, documentTime, uuidV5 } from './identity.js';
import { isDeprecatedSpdxId, isSpdxId, spdxExpressionOf } from './licenses.js';
import { mergeComponents } from './merge.js';
import { componentKey, type Component, type License, type Sbom } from './model.js';

export interface WriterOptions {
  /** The tool named in the document (default lading 0.0.0). */
  tool?: { name: string; version: string };
}

const sorted = <T>(list: readonly T[], key: (x: T) => string): T[] => [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

/** CycloneDX licenses: one id or one expression when all are SPDX; else a list of ids and names, unknown text also as license.text (never mixed with an expression). */
function cdxLicenses(licenses: readonly License[]): unknown[] | undefined {
  if (licenses.length === 0) return undefined;
  const spdx = spdxExpressionOf(licenses);
  if (spdx !== undefined) {
    return isSpdxId(spdx) && !isDeprecatedSpdxId(spdx) ? [{ license: { id: spdx } }] : [{ expression: spdx }];
  }
  return licenses.map((l) => {
    if (l.kind === 'spdx' && isSpdxId(l.expression) && !isDeprecatedSpdxId(l.expression)) return { license: { id: l.expression } };
    if (l.kind === 'unlicensed') return { license: { name: 'UNLICENSED' } };
    if (l.kind === 'spdx') return { license: { name: l.expression } };
    // Text that is not SPDX, kept verbatim: CycloneDX's place for a licence's own text is license.text.
    return { license: { name: l.name, text: { contentType: 'text/plain', content: l.name } } };
  });
}

function sourceProperties(c: Component): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const s of c.sources) {
    if (s.buildpack) out.push({ name: 'lading:source:buildpack', value: s.buildpack });
    if (s.layer) out.push({ name: 'lading:source:layer', value: `${s.buildpack ?? ''}/${s.layer}` });
    if (s.path) out.push({ name: 'lading:source:path', value: s.path });
  }
  return out;
}

function component(c: Component): Record<string, unknown> {
  const out: Record<string, unknown> = { type: c.type, 'bom-ref': componentKey(c) };
  if (c.supplier) out.supplier = { name: c.supplier };
  if (c.group) out.group = c.group;
  out.name = c.name;
  if (c.version !== undefined) out.version = c.version;
  if (c.hashes.length) out.hashes = c.hashes.map((h) => ({ alg: h.alg, content: h.content }));
  const licenses = cdxLicenses(c.licenses);
  if (licenses) out.licenses = licenses;
  if (c.cpe) out.cpe = c.cpe;
  if (c.purl) out.purl = c.purl;
  const props = [...c.properties, ...sourceProperties(c)];
  const unique = [...new Map(props.map((p) => [`${p.name}\u0000${p.value}`, p])).values()];
  if (unique.length) out.properties = sorted(unique, (p) => `${p.name}\u0000${p.value}`);
  return out;
}

/**
 * The image SBOM as CycloneDX 1.6 JSON: the image is `metadata.component` (type container, version = the
 * manifest digest); serial number a UUID v5 of the digest, timestamp the image's `created`; components
 * sorted by bom-ref (the purl). Same input → same bytes.
 */
export function writeCycloneDx(sbom: Sbom, options: WriterOptions = {}): string {
  const tool = options.tool ?? { name: 'lading', version: '0.0.0' };
  const rootRef = imagePurl(sbom.subject);
  const components = sorted(mergeComponents(sbom.components), componentKey).map(component);
  const doc = {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${uuidV5(`lading:cyclonedx:${sbom.subject.digest}`)}`,
    version: 1,
    metadata: {
      timestamp: documentTime(sbom.subject.created),
      tools: { components: [{ type: 'application', name: tool.name, version: tool.version }] },
      component: { type: 'container', 'bom-ref': rootRef, name: sbom.subject.name, version: sbom.subject.digest, purl: rootRef },
    },
    components,
    dependencies: [{ ref: rootRef, dependsOn: components.map((c) => c['bom-ref'] as string) }],
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
