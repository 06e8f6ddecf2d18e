import { describe, expect, it } from 'vitest';
import { debianSemver, debianUpstreamVersion } from './apt-source.js';
import { resolveVersion, selectVersionRequest } from './resolve.js';

const NODE = ['18.19.0', '18.20.4', '20.9.0', '20.11.1', '20.18.0', '22.1.0', '22.12.0', '23.0.0-rc.1', '24.0.0'];

describe('version selection (design.md §8: most specific first, semver)', () => {
  it('takes the env var over the project file over the default', () => {
    const pick = (env?: string, file?: string) =>
      selectVersionRequest([
        env === undefined ? undefined : { constraint: env, source: 'BP_NODE_VERSION' },
        file === undefined ? undefined : { constraint: file, source: 'package.json engines.node' },
        { constraint: '22', source: 'buildpack default' },
      ]);
    expect(pick('18', '^20')?.source).toBe('BP_NODE_VERSION');
    expect(pick('', '^20')?.source).toBe('package.json engines.node');
    expect(pick(undefined, undefined)).toEqual({ constraint: '22', source: 'buildpack default' });
  });

  it('resolves the highest satisfying version, ignoring prereleases', () => {
    const r = (c: string) => resolveVersion('node', NODE, { constraint: c, source: 'test' });
    expect(r('^20')).toBe('20.18.0');
    expect(r('20.11.x')).toBe('20.11.1');
    expect(r('v18')).toBe('18.20.4');
    expect(r('>=20 <22')).toBe('20.18.0');
    expect(r('*')).toBe('24.0.0');
    expect(r('')).toBe('24.0.0');
    expect(r('=20.9.0')).toBe('20.9.0');
  });

  it('lists the nearest available versions when nothing satisfies the constraint', () => {
    expect(() => resolveVersion('node', NODE, { constraint: '^21', source: '.nvmrc' })).toThrow(
      'no available version of node satisfies "^21" (from .nvmrc); nearest available: 20.9.0, 20.11.1, 20.18.0, 22.1.0, 22.12.0, 24.0.0',
    );
    expect(() => resolveVersion('node', NODE, { constraint: '^99', source: 'BP_NODE_VERSION' })).toThrow(/nearest available: 22.1.0, 22.12.0, 24.0.0$/);
    expect(() => resolveVersion('node', [], { constraint: '^20', source: 'x' })).toThrow(/offers no versions at all/);
    expect(() => resolveVersion('node', NODE, { constraint: 'lts/iron', source: '.nvmrc' })).toThrow('"lts/iron" (from .nvmrc) is not a semver version or range');
  });

  it('resolves Debian versions by their upstream part and returns the Debian spelling', () => {
    const golang = ['2:1.19~1', '2:1.15~1', '1.19.8-2', '1.21.0-1~bpo12+1'];
    const r = resolveVersion('golang', golang, { constraint: '~1.19', source: 'go.mod' }, { semverOf: debianSemver });
    expect(r).toBe('1.19.8-2');
    expect(debianUpstreamVersion('1:1.35.0-4+deb12u1+b1')).toBe('1.35.0');
  });
});
