import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distributionLicenses, installedDistributions, normaliseName, parseCoreMetadata } from './distributions.js';

const dir = mkdtempSync(join(tmpdir(), 'lading-python-dist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('installed distributions → SBOM components', () => {
  it('licence: License-Expression, else classifiers (SPDX where one fits, raw otherwise), else the License text', () => {
    const lic = (t: string) => distributionLicenses(parseCoreMetadata(t));
    expect(lic('Name: a\nLicense-Expression: MIT OR Apache-2.0\nClassifier: License :: OSI Approved :: BSD License\n')).toEqual(['MIT OR Apache-2.0']);
    expect(lic('Name: a\nClassifier: License :: OSI Approved :: MIT License\nClassifier: License :: OSI Approved :: Apache Software License\n')).toEqual(['MIT', 'Apache-2.0']);
    expect(lic('Name: a\nClassifier: License :: Other/Proprietary License\n')).toEqual(['License :: Other/Proprietary License']);
    expect(lic('Name: a\nLicense: Copyright Example Corp, all rights reserved\n')).toEqual(['Copyright Example Corp, all rights reserved']);
    expect(lic('Name: a\nLicense: UNKNOWN\n')).toEqual([]);
  });

  it('reads every *.dist-info: PEP 503 names in pypi purls, versions, sorted', async () => {
    const dist = (d: string, meta: string) => {
      mkdirSync(join(dir, d), { recursive: true });
      writeFileSync(join(dir, d, 'METADATA'), meta);
    };
    dist('Zope.Interface-6.0.dist-info', 'Metadata-Version: 2.1\nName: zope.interface\nVersion: 6.0\nLicense: ZPL 2.1\n\nlong description\nName: not-a-header\n');
    dist('greeting-1.2.0.dist-info', 'Metadata-Version: 2.1\nName: greeting\nVersion: 1.2.0\nClassifier: License :: OSI Approved :: MIT License\n');
    mkdirSync(join(dir, 'greeting'), { recursive: true });
    const ds = await installedDistributions(dir);
    expect(ds.map((d) => d.component)).toEqual([
      { name: 'greeting', version: '1.2.0', purl: 'pkg:pypi/greeting@1.2.0', licenses: ['MIT'] },
      { name: 'zope.interface', version: '6.0', purl: 'pkg:pypi/zope-interface@6.0', licenses: ['ZPL 2.1'] },
    ]);
    expect(normaliseName('Foo__Bar.baz')).toBe('foo-bar-baz');
  });
});
