import { describe, expect, it } from 'vitest';
import { sbomDocumentProblems } from '../../test/support/sbom-check.js';
import { contentUuid, cycloneDxDocument, sbomJson, spdxDocument, type SbomComponent } from './sbom.js';

const opts = { name: 'bp/layer', tool: { name: 'bp', version: '1.0.0' } };
const a: SbomComponent = { name: 'a', version: '1.0.0', purl: 'pkg:npm/a@1.0.0', licenses: ['MIT'] };
const b: SbomComponent = { name: 'b', version: '2.0.0', purl: 'pkg:npm/b@2.0.0' };

describe('layer SBOM writers (design.md §4 and §10: deterministic)', () => {
  it('gives the same document whatever the input order, without duplicates', () => {
    expect(cycloneDxDocument([b, a, a], opts)).toEqual(cycloneDxDocument([a, b], opts));
    expect(spdxDocument([b, a, b], opts)).toEqual(spdxDocument([a, b], opts));
    expect((spdxDocument([a, b], opts)['packages'] as unknown[]).length).toBe(2);
  });

  it('derives serial numbers and namespaces from content', () => {
    const one = cycloneDxDocument([a], opts);
    const two = cycloneDxDocument([a, b], opts);
    expect(one['serialNumber']).not.toBe(two['serialNumber']);
    expect(spdxDocument([a], opts)['documentNamespace']).toMatch(/^https:\/\/lading\.invalid\/spdx\/bp-layer-[0-9a-f-]{36}$/);
    expect(contentUuid({ x: 1 })).toBe(contentUuid({ x: 1 }));
  });

  it('marks components without licences NOASSERTION in SPDX and omits licences in CycloneDX', () => {
    const spdx = spdxDocument([b], opts);
    expect((spdx['packages'] as Record<string, unknown>[])[0]).toMatchObject({ licenseDeclared: 'NOASSERTION', licenseConcluded: 'NOASSERTION' });
    expect((cycloneDxDocument([b], opts)['components'] as Record<string, unknown>[])[0]).not.toHaveProperty('licenses');
  });

  type Cdx = { components: { name: string; licenses?: unknown[] }[] };
  type Spdx = { packages: { name: string; licenseDeclared: string }[]; hasExtractedLicensingInfos: { licenseId: string; extractedText: string; name: string }[] };

  it('keeps unknown licence text verbatim: CycloneDX license.name with the text as license.text, SPDX extractedText the raw text', async () => {
    const odd: SbomComponent = { name: 'odd', version: '1.0.0', purl: 'pkg:npm/odd@1.0.0', licenses: ['SEE LICENSE IN LICENSE.md', 'MIT'] };
    const cdx = cycloneDxDocument([odd], opts) as unknown as Cdx;
    expect(cdx.components[0]?.licenses).toEqual([
      { license: { name: 'SEE LICENSE IN LICENSE.md', text: { contentType: 'text/plain', content: 'SEE LICENSE IN LICENSE.md' } } },
      { license: { id: 'MIT' } },
    ]);
    const spdx = spdxDocument([odd], opts) as unknown as Spdx;
    expect(spdx.packages[0]?.licenseDeclared).toBe('LicenseRef-SEE-LICENSE-IN-LICENSE.md AND MIT');
    expect(spdx.hasExtractedLicensingInfos).toEqual([
      { licenseId: 'LicenseRef-SEE-LICENSE-IN-LICENSE.md', extractedText: 'SEE LICENSE IN LICENSE.md', name: 'SEE LICENSE IN LICENSE.md' },
    ]);
    expect(await sbomDocumentProblems(sbomJson(cdx), 'cdx', 'cyclonedx', '1.6')).toEqual([]);
    expect(await sbomDocumentProblems(sbomJson(spdx), 'spdx', 'spdx')).toEqual([]);
  });

  it('gives distinct texts distinct LicenseRefs even where their slugs collide, in both documents alike', async () => {
    const long = 'Proprietary licence of Example Corp, version one, all rights';
    const comps: SbomComponent[] = [
      { name: 'p', version: '1', purl: 'pkg:npm/p@1', licenses: ['Apache 2'] },
      { name: 'q', version: '1', purl: 'pkg:npm/q@1', licenses: ['Apache-2'] },
      { name: 'r', version: '1', purl: 'pkg:npm/r@1', licenses: [long, 'MIT OR ISC'] },
      { name: 's', version: '1', purl: 'pkg:npm/s@1', licenses: [`${long} reserved`, 'Custom'] },
    ];
    const spdx = spdxDocument(comps, opts) as unknown as Spdx;
    const texts = new Map(spdx.hasExtractedLicensingInfos.map((e) => [e.licenseId, e.extractedText]));
    expect(new Set(texts.values())).toEqual(new Set(['Apache 2', 'Apache-2', long, `${long} reserved`, 'Custom']));
    expect(texts.size).toBe(5);
    // Every LicenseRef a package names resolves to exactly the text that package declared.
    const declared = (n: string) => spdx.packages.find((p) => p.name === n)?.licenseDeclared ?? '';
    const refsOf = (e: string) => e.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? [];
    expect(refsOf(declared('p')).map((r) => texts.get(r))).toEqual(['Apache 2']);
    expect(refsOf(declared('q')).map((r) => texts.get(r))).toEqual(['Apache-2']);
    expect(refsOf(declared('r')).map((r) => texts.get(r))).toEqual([long]);
    expect(refsOf(declared('s')).map((r) => texts.get(r))).toEqual([`${long} reserved`, 'Custom']);
    // CycloneDX: unknown text carries its text; where an expression forces one expression, its LicenseRef is the SPDX file's.
    const cdx = cycloneDxDocument(comps, opts) as unknown as Cdx;
    const lic = (n: string) => cdx.components.find((c) => c.name === n)?.licenses;
    expect(lic('p')).toEqual([{ license: { name: 'Apache 2', text: { contentType: 'text/plain', content: 'Apache 2' } } }]);
    expect(lic('r')).toEqual([{ expression: declared('r') }]);
    expect(await sbomDocumentProblems(sbomJson(cdx), 'cdx', 'cyclonedx', '1.6')).toEqual([]);
    expect(await sbomDocumentProblems(sbomJson(spdx), 'spdx', 'spdx')).toEqual([]);
  });
});
