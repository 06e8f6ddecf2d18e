import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  andOperands, copyrightLicenses, dep5License, diffComponents, documentComponents, dpkgComponents, mergeComponents, normalizeLicense,
  summarize, validateSbom, writeCycloneDx, writeSpdx, jsonPath, type Component, type Sbom,
} from './index.js';

const SCHEMA = resolve(import.meta.dirname, '../../shared/reference/spdx-2.3/spdx-schema.json');
function spdxSchema(): object | undefined {
  if (!existsSync(SCHEMA)) {
    if (process.env.CI === 'true') throw new Error(`the SPDX 2.3 schema is expected at ${SCHEMA} (workspace reference data beside the repo)`);
    return undefined;
  }
  return JSON.parse(readFileSync(SCHEMA, 'utf8')) as object;
}

const STATUS = `Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u10
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: GNU C Library
`;
const ZLIB = `Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Maintainer: Mark Brown <broonie@debian.org>
`;
const DEP5 = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 1991-2023 Free Software Foundation
License: LGPL-2.1+

Files: debian/*
License: GPL-2+

License: LGPL-2.1+
 text
`;

function dpkg(): Component[] {
  return dpkgComponents({
    statusFiles: new Map([['var/lib/dpkg/status.d/libc6', STATUS], ['var/lib/dpkg/status.d/libc6.md5sums', 'x'], ['var/lib/dpkg/status.d/zlib1g', ZLIB]]),
    copyrightFiles: new Map([['usr/share/doc/libc6/copyright', DEP5], ['usr/share/doc/zlib1g/copyright', 'free text, not DEP-5']]),
    distro: { id: 'debian', versionId: '12' },
  });
}

const npmDoc = {
  bomFormat: 'CycloneDX', specVersion: '1.6',
  components: [
    { type: 'library', name: 'express', version: '4.18.2', purl: 'pkg:npm/express@4.18.2', licenses: [{ license: { id: 'MIT' } }] },
    { type: 'library', name: 'secret', version: '1.0.0', purl: 'pkg:npm/secret@1.0.0', licenses: [{ license: { name: 'UNLICENSED' } }] },
    { type: 'library', name: 'odd', version: '2.0.0', purl: 'pkg:npm/odd@2.0.0', licenses: [{ license: { name: 'SEE LICENSE IN LICENSE.md' } }] },
    { type: 'library', name: 'dual', version: '3.0.0', purl: 'pkg:npm/dual@3.0.0', licenses: [{ expression: 'MIT OR Apache-2.0' }] },
  ],
};

function sbom(): Sbom {
  const bp = documentComponents(npmDoc, { buildpack: 'lading/nodejs', layer: 'modules' });
  return {
    subject: { name: '127.0.0.1:5000/app:v1', digest: `sha256:${'a'.repeat(64)}`, created: '1980-01-01T00:00:01.000Z', platform: 'linux/amd64' },
    components: mergeComponents(dpkg(), bp, bp),
  };
}

describe('license normalization (supplychain.md §7)', () => {
  it('keeps SPDX ids and expressions, UNLICENSED is not the Unlicense, raw text is kept, nothing guessed', () => {
    expect(normalizeLicense('MIT')).toEqual({ kind: 'spdx', expression: 'MIT' });
    expect(normalizeLicense('(MIT OR Apache-2.0)')).toEqual({ kind: 'spdx', expression: 'MIT OR Apache-2.0' });
    expect(normalizeLicense('mit')).toEqual({ kind: 'spdx', expression: 'MIT' });
    expect(normalizeLicense('UNLICENSED')).toEqual({ kind: 'unlicensed' });
    expect(normalizeLicense('SEE LICENSE IN LICENSE.md')).toEqual({ kind: 'named', name: 'SEE LICENSE IN LICENSE.md' });
    expect(normalizeLicense('BSD')).toEqual({ kind: 'named', name: 'BSD' });
    expect(normalizeLicense('Apache 2')).toEqual({ kind: 'named', name: 'Apache 2' });
    expect(normalizeLicense('NOASSERTION')).toBeUndefined();
  });

  it('maps DEP-5 short names by the copyright-format rules, keeps the rest raw', () => {
    expect(dep5License('GPL-2+')).toEqual({ kind: 'spdx', expression: 'GPL-2.0-or-later' });
    expect(dep5License('LGPL-2.1')).toEqual({ kind: 'spdx', expression: 'LGPL-2.1-only' });
    expect(dep5License('Expat')).toEqual({ kind: 'spdx', expression: 'MIT' });
    expect(dep5License('GPL-2+ or Artistic-2.0')).toEqual({ kind: 'spdx', expression: 'GPL-2.0-or-later OR Artistic-2.0' });
    expect(dep5License('public-domain')).toEqual({ kind: 'named', name: 'public-domain' });
    expect(copyrightLicenses(DEP5)?.raw).toEqual(['LGPL-2.1+', 'GPL-2+']);
    expect(copyrightLicenses('not dep5')).toBeUndefined();
  });
});

describe('dpkg collector', () => {
  it('gives deb purls with arch, distro and upstream, licenses from DEP-5, unknowns marked', () => {
    const [libc, zlib] = dpkg();
    expect(libc).toMatchObject({ name: 'libc6', version: '2.36-9+deb12u10', purl: 'pkg:deb/debian/libc6@2.36-9+deb12u10?arch=amd64&distro=debian-12&upstream=glibc' });
    expect(libc!.licenses).toEqual([{ kind: 'spdx', expression: 'LGPL-2.1-or-later' }, { kind: 'spdx', expression: 'GPL-2.0-or-later' }]);
    expect(zlib!.version).toBe('1:1.2.13.dfsg-1');
    expect(zlib!.licenses).toEqual([]);
    expect(zlib!.properties).toContainEqual({ name: 'lading:license:undetermined', value: '/usr/share/doc/zlib1g/copyright is not machine-readable (DEP-5)' });
  });
});

describe('writers', () => {
  it('CycloneDX 1.6 passes the CycloneDX library validator and lading rules; deterministic', async () => {
    const text = writeCycloneDx(sbom());
    expect(writeCycloneDx(sbom())).toBe(text);
    const r = await validateSbom(text, 'cdx');
    expect(r.problems).toEqual([]);
    const doc = JSON.parse(text);
    expect(doc.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(doc.metadata.timestamp).toBe('1980-01-01T00:00:01Z');
    expect(doc.metadata.component).toMatchObject({ type: 'container', name: '127.0.0.1:5000/app:v1', version: `sha256:${'a'.repeat(64)}` });
    expect(doc.components).toHaveLength(6);
    const secret = doc.components.find((c: { name: string }) => c.name === 'secret');
    expect(secret.licenses).toEqual([{ license: { name: 'UNLICENSED' } }]);
    // Text that is not SPDX is kept verbatim, also as the licence's text where CycloneDX has a place for it.
    expect(doc.components.find((c: { name: string }) => c.name === 'odd').licenses)
      .toEqual([{ license: { name: 'SEE LICENSE IN LICENSE.md', text: { contentType: 'text/plain', content: 'SEE LICENSE IN LICENSE.md' } } }]);
    expect(doc.components.find((c: { name: string }) => c.name === 'libc6').licenses).toEqual([{ expression: 'LGPL-2.1-or-later AND GPL-2.0-or-later' }]);
  });

  it('SPDX 2.3 passes the SPDX schema (ajv) and lading rules; non-SPDX licenses become LicenseRefs with their text', async () => {
    const schema = spdxSchema();
    const text = writeSpdx(sbom());
    expect(writeSpdx(sbom())).toBe(text);
    const r = await validateSbom(text, 'spdx', schema ? { spdxSchema: schema } : {});
    expect(r.problems).toEqual([]);
    const doc = JSON.parse(text);
    expect(doc.documentNamespace).toMatch(/^https:\/\/spdx\.org\/spdxdocs\/lading\//);
    expect(doc.creationInfo.created).toBe('1980-01-01T00:00:01Z');
    const texts = doc.hasExtractedLicensingInfos.map((e: { extractedText: string }) => e.extractedText).sort();
    expect(texts).toEqual(['SEE LICENSE IN LICENSE.md', 'UNLICENSED']);
    expect(doc.packages[0]).toMatchObject({ SPDXID: 'SPDXRef-Image', primaryPackagePurpose: 'CONTAINER' });
    expect(doc.relationships.filter((x: { relationshipType: string }) => x.relationshipType === 'CONTAINS')).toHaveLength(6);
  });

  it('every component type gets a primaryPackagePurpose the SPDX 2.3 schema allows (CycloneDX platform → APPLICATION)', async () => {
    const schema = spdxSchema();
    const types = ['library', 'application', 'framework', 'operating-system', 'container', 'file', 'platform'] as const;
    const components: Component[] = types.map((type) => ({
      name: `c-${type}`, version: '1.0.0', type, purl: `pkg:generic/c-${type}@1.0.0`, licenses: [], hashes: [], properties: [], sources: [],
    }));
    const text = writeSpdx({ ...sbom(), components });
    if (schema) expect((await validateSbom(text, 'spdx', { spdxSchema: schema })).problems).toEqual([]);
    const purposes = (JSON.parse(text).packages as { name: string; primaryPackagePurpose: string }[]).map((p) => `${p.name}=${p.primaryPackagePurpose}`);
    expect(purposes).toEqual(expect.arrayContaining(['c-platform=APPLICATION', 'c-operating-system=OPERATING_SYSTEM', 'c-file=FILE', 'c-library=LIBRARY']));
  });

  it('round-trips: components read back from both documents match', () => {
    const s = sbom();
    const key = (cs: Component[]) => cs.map((c) => `${c.purl} ${c.version}`).sort();
    expect(key(documentComponents(JSON.parse(writeCycloneDx(s)), {}))).toEqual(key(s.components));
    expect(key(documentComponents(JSON.parse(writeSpdx(s)), {}))).toEqual(key(s.components));
  });

  it('a LicenseRef inside an SPDX expression is read as its text, and every LicenseRef written has its text', async () => {
    // What the SDK's SPDX layer SBOM holds for licenses ["SEE LICENSE IN LICENSE.md", "(MIT OR Apache-2.0)"].
    const layerDoc = {
      spdxVersion: 'SPDX-2.3', hasExtractedLicensingInfos: [{ licenseId: 'LicenseRef-see', extractedText: 'SEE LICENSE IN LICENSE.md' }],
      packages: [{ SPDXID: 'SPDXRef-a', name: 'odd', versionInfo: '0.1.0', licenseDeclared: 'LicenseRef-see AND (MIT OR Apache-2.0)', externalRefs: [{ referenceType: 'purl', referenceLocator: 'pkg:npm/odd@0.1.0' }] }],
    };
    const [odd] = documentComponents(layerDoc, {});
    expect(odd!.licenses).toEqual([{ kind: 'named', name: 'SEE LICENSE IN LICENSE.md' }, { kind: 'spdx', expression: 'MIT OR Apache-2.0' }]);
    // A CycloneDX expression naming a LicenseRef without its text.
    const fromCdx = documentComponents({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'x', version: '1', purl: 'pkg:npm/x@1', licenses: [{ expression: 'LicenseRef-corp OR MIT' }] }] }, {});
    const s: Sbom = { ...sbom(), components: mergeComponents(fromCdx, [odd!]) };
    const text = writeSpdx(s);
    const schema = spdxSchema();
    expect((await validateSbom(text, 'spdx', schema ? { spdxSchema: schema } : {})).problems).toEqual([]);
    const doc = JSON.parse(text);
    expect(doc.hasExtractedLicensingInfos.map((e: { licenseId: string }) => e.licenseId)).toEqual(expect.arrayContaining(['LicenseRef-corp']));
    const back = documentComponents(doc, {}).find((c) => c.name === 'odd')!;
    expect(back.licenses).toEqual(odd!.licenses);
    // The SDK's CycloneDX file names the LicenseRef without its text; the SPDX file of the same layer has it.
    const cdxOdd = documentComponents({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'odd', version: '0.1.0', purl: 'pkg:npm/odd@0.1.0', licenses: [{ expression: 'LicenseRef-see AND (MIT OR Apache-2.0)' }] }] }, {});
    expect(mergeComponents(cdxOdd, [odd!])[0]!.licenses).toEqual(odd!.licenses);
  });
});

describe('validation errors name the JSON path', () => {
  it('not JSON → CONTENT_INVALID', async () => {
    await expect(validateSbom('{nope', 'bad.json')).rejects.toMatchObject({ code: 'CONTENT_INVALID', message: expect.stringContaining('bad.json: not JSON') });
    await expect(validateSbom('{"a":1}', 'x.json')).rejects.toMatchObject({ code: 'CONTENT_INVALID' });
  });

  it('schema and rule problems point at the offending value', async () => {
    const bad = { bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'a', purl: 'pkg:/x', licenses: [{ license: { id: 'Apache 2' } }] }] };
    const r = await validateSbom(JSON.stringify(bad), 'bad');
    const paths = r.problems.map((p) => p.path);
    expect(paths).toContain('$.components[0].licenses[0].license.id');
    expect(paths).toContain('$.components[0].version');
    expect(paths).toContain('$.components[0].purl');
    expect(jsonPath('/packages/3/name')).toBe('$.packages[3].name');
  });

  it('SPDX: wrong category spelling fails the schema; unknown license id fails the rule', async () => {
    const schema = spdxSchema();
    const doc = JSON.parse(writeSpdx(sbom()));
    doc.packages[1].externalRefs[0].referenceCategory = 'PACKAGE_MANAGER';
    doc.packages[1].licenseDeclared = 'Foo-1.0';
    const r = await validateSbom(JSON.stringify(doc), 'spdx', schema ? { spdxSchema: schema } : {});
    expect(r.problems).toContainEqual(expect.objectContaining({ path: '$.packages[1].licenseDeclared', kind: 'rule' }));
    if (schema) expect(r.problems.some((p) => p.path.startsWith('$.packages[1].externalRefs[0]') && p.kind === 'schema')).toBe(true);
  });
});

describe('diff and summary', () => {
  it('shows added, removed and changed packages', () => {
    const a = dpkg();
    const b = dpkg().map((c) => (c.name === 'libc6' ? { ...c, version: '2.36-9+deb12u11', purl: c.purl!.replace('deb12u10', 'deb12u11') } : c)).filter((c) => c.name !== 'zlib1g');
    const changes = diffComponents(a, b);
    expect(changes.map((c) => `${c.kind} ${c.name}`)).toEqual(['version libc6', 'removed zlib1g']);
    expect(diffComponents(a, a)).toEqual([]);
  });

  it('summarizes ecosystems, licenses and unknowns', () => {
    const s = summarize(sbom().components);
    expect(s.ecosystems).toEqual([{ ecosystem: 'deb', packages: 2 }, { ecosystem: 'npm', packages: 4 }]);
    expect(s.unknownLicense.map((u) => u.name).sort()).toEqual(['odd', 'secret', 'zlib1g']);
  });
});

describe('license comparison', () => {
  it('one AND expression and its operands found separately are the same licensing (diff shows no change)', () => {
    const c = (licenses: Component['licenses']): Component => ({ name: 'ca-certificates', version: '1', type: 'library', purl: 'pkg:deb/debian/ca-certificates@1?arch=all', licenses, hashes: [], properties: [], sources: [] });
    const joined = c([{ kind: 'spdx', expression: 'GPL-2.0-or-later AND (MPL-2.0)' }]);
    const split = c([{ kind: 'spdx', expression: 'MPL-2.0' }, { kind: 'spdx', expression: 'GPL-2.0-or-later' }]);
    expect(diffComponents([joined], [split])).toEqual([]);
    expect(diffComponents([joined], [c([{ kind: 'spdx', expression: 'MIT' }])])).toMatchObject([{ kind: 'license', after: { licenses: ['MIT'] } }]);
    expect(andOperands('(A AND B) AND (C OR D)')).toEqual(['A', 'B', 'C OR D']);
    expect(andOperands('(A OR B)')).toEqual(['A OR B']);
  });
});
