import { describe, expect, it } from 'vitest';
import { goSemver, goVersionRequest } from './version.js';

describe('Go version selection', () => {
  const mod = { module: 'm', go: '1.19', requires: [] };
  it('BP_GO_VERSION wins over go.mod, toolchain over go, and the default comes last', () => {
    expect(goVersionRequest('1.21.*', { ...mod, toolchain: '1.22.3' }, '1.x')).toEqual({ constraint: '1.21.*', source: 'BP_GO_VERSION' });
    expect(goVersionRequest(undefined, { ...mod, toolchain: '1.22.3' }, '1.x')).toEqual({ constraint: '>=1.22.3', source: 'go.mod toolchain go1.22.3' });
    expect(goVersionRequest('', mod, '1.x')).toEqual({ constraint: '>=1.19.0', source: 'go.mod go 1.19' });
    expect(goVersionRequest(undefined, undefined, '1.x')).toEqual({ constraint: '1.x', source: 'buildpack default' });
  });
  it('spells Go versions as semver', () => {
    expect(goSemver('1.19')).toBe('1.19.0');
    expect(goSemver('go1.21rc2')).toBe('1.21.0-rc.2');
    expect(goSemver('1.22.5')).toBe('1.22.5');
    expect(goSemver('devel')).toBeNull();
  });
});
