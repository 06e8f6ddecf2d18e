import { describe, expect, it } from 'vitest';
import { contentUuid, cycloneDxDocument, spdxDocument, type SbomComponent } from './sbom.js';

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
});
