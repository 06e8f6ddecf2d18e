import { describe, expect, it } from 'vitest';
import { classifyLicense, licenseRefFor, licenseRefsFor, spdxLicenseId } from './licenses.js';

describe('licence classification (design.md §10: SPDX ids, unknowns marked, never guessed)', () => {
  it('recognises SPDX ids in any case and returns the canonical spelling', () => {
    expect(classifyLicense('mit')).toEqual({ kind: 'id', id: 'MIT' });
    expect(classifyLicense(' Apache-2.0 ')).toEqual({ kind: 'id', id: 'Apache-2.0' });
    expect(spdxLicenseId('GPL-2.0')).toBe('GPL-2.0');
  });

  it('accepts valid expressions and normalises operators', () => {
    expect(classifyLicense('(MIT or apache-2.0)')).toEqual({ kind: 'expression', expression: '(MIT OR Apache-2.0)' });
    expect(classifyLicense('GPL-2.0-only WITH Classpath-exception-2.0')).toEqual({
      kind: 'expression',
      expression: 'GPL-2.0-only WITH Classpath-exception-2.0',
    });
    expect(classifyLicense('LGPL-2.1+ AND LicenseRef-foo')).toEqual({ kind: 'expression', expression: 'LGPL-2.1+ AND LicenseRef-foo' });
  });

  it('keeps anything else as unknown text', () => {
    expect(classifyLicense('SEE LICENSE IN LICENSE.md')).toEqual({ kind: 'unknown', text: 'SEE LICENSE IN LICENSE.md' });
    expect(classifyLicense('MIT OR')).toEqual({ kind: 'unknown', text: 'MIT OR' });
    expect(classifyLicense('Made-Up-1.0 AND MIT')).toEqual({ kind: 'unknown', text: 'Made-Up-1.0 AND MIT' });
    expect(classifyLicense('MIT WITH Not-An-Exception')).toEqual({ kind: 'unknown', text: 'MIT WITH Not-An-Exception' });
  });

  it('derives stable LicenseRef ids from unknown text', () => {
    expect(licenseRefFor('SEE LICENSE IN LICENSE.md')).toBe('LicenseRef-SEE-LICENSE-IN-LICENSE.md');
    expect(licenseRefFor('***')).toBe('LicenseRef-unknown');
  });

  it('keeps LicenseRef ids of one document distinct: a hash only where texts would share one', () => {
    const refs = licenseRefsFor(['SEE LICENSE IN LICENSE.md', '***', '???', 'SEE LICENSE IN LICENSE.md']);
    expect(refs.get('SEE LICENSE IN LICENSE.md')).toBe('LicenseRef-SEE-LICENSE-IN-LICENSE.md');
    expect(refs.get('***')).toMatch(/^LicenseRef-unknown-[0-9a-f]{8}$/);
    expect(refs.get('???')).toMatch(/^LicenseRef-unknown-[0-9a-f]{8}$/);
    expect(refs.get('***')).not.toBe(refs.get('???'));
    expect(refs.size).toBe(3);
  });
});
