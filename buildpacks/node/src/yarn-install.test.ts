import { describe, expect, it } from 'vitest';
import { yarnFlavor, yarnrcSetting, yarnVersionRequest } from './yarn-install.js';

describe('yarn version and flavour', () => {
  it('BP_YARN_VERSION > packageManager > a default by the lockfile format', () => {
    expect(yarnVersionRequest('1.22', '4.5.0', undefined)).toEqual({ constraint: '1.22', source: 'BP_YARN_VERSION' });
    expect(yarnVersionRequest(undefined, '4.5.0', undefined)).toEqual({ constraint: '4.5.0', source: 'package.json packageManager' });
    expect(yarnVersionRequest(undefined, undefined, '# yarn lockfile v1\n').constraint).toBe('1');
    expect(yarnVersionRequest(undefined, undefined, '__metadata:\n  version: 8\n').constraint).toBe('4');
    expect(yarnVersionRequest(undefined, undefined, undefined).constraint).toBe('1');
  });

  it('1.x is classic, 4+ is berry, 2 and 3 are refused with the reason', () => {
    expect(yarnFlavor({ constraint: '1.22.22', source: 's' })).toBe('classic');
    expect(yarnFlavor({ constraint: '^1', source: 's' })).toBe('classic');
    expect(yarnFlavor({ constraint: '4.5.0', source: 's' })).toBe('berry');
    expect(() => yarnFlavor({ constraint: '3.6.4', source: 'package.json packageManager' })).toThrow(/yarn 3\.6\.4 \(from package\.json packageManager\) is not supported: use yarn 1 \(classic\) or yarn 4/);
    expect(() => yarnFlavor({ constraint: 'banana', source: 'BP_YARN_VERSION' })).toThrow('yarn version "banana" (from BP_YARN_VERSION) is not a valid version or range');
  });

  it('reads top-level .yarnrc.yml settings, quoted or not', () => {
    const rc = 'nodeLinker: "node-modules"\nnpmRegistryServer: \'http://r.test\'\nnpmScopes:\n  corp:\n    npmRegistryServer: "x"\n';
    expect(yarnrcSetting(rc, 'nodeLinker')).toBe('node-modules');
    expect(yarnrcSetting(rc, 'npmRegistryServer')).toBe('http://r.test');
    expect(yarnrcSetting(rc, 'httpsCaFilePath')).toBeUndefined();
  });
});
