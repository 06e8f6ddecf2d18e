import { describe, expect, it } from 'vitest';
import { shellWords } from '../../lib/index.js';
import { buildFlags } from './flags.js';

describe('go build flags', () => {
  it('defaults to a reproducible build', () => {
    expect(buildFlags({ vendored: false })).toEqual(['-trimpath', '-buildvcs=false', '-ldflags=-buildid=', '-modcacherw']);
    expect(buildFlags({ vendored: true })).toEqual(['-trimpath', '-buildvcs=false', '-ldflags=-buildid=', '-mod=vendor', '-modcacherw']);
  });
  it('merges BP_GO_BUILD_FLAGS; BP_GO_BUILD_LDFLAGS wins for -ldflags and the empty build ID stays', () => {
    expect(buildFlags({ vendored: true, flags: '-tags "netgo osusergo" -mod=mod -ldflags="-s -w"' })).toEqual([
      '-trimpath',
      '-buildvcs=false',
      '-tags=netgo osusergo',
      '-mod=mod',
      '-ldflags=-s -w -buildid=',
      '-modcacherw',
    ]);
    expect(buildFlags({ vendored: false, flags: '-ldflags=-s', ldflags: '-X main.version=1.2.3' })).toContain('-ldflags=-X main.version=1.2.3 -buildid=');
    expect(buildFlags({ vendored: false, ldflags: '-buildid=custom' })).toContain('-ldflags=-buildid=custom');
    expect(buildFlags({ vendored: false, flags: '-buildvcs=true -race' })).toEqual(['-trimpath', '-buildvcs=true', '-race', '-ldflags=-buildid=', '-modcacherw']);
  });
  it('refuses what is not a flag, -o, and bad quoting', () => {
    expect(() => buildFlags({ vendored: false, flags: './cmd/x' })).toThrow('BP_GO_BUILD_FLAGS: "./cmd/x" is not a flag');
    expect(() => buildFlags({ vendored: false, flags: '-o /tmp/x' })).toThrow('-o is set by the buildpack');
    expect(() => shellWords("-tags 'a b", 'BP_GO_BUILD_FLAGS')).toThrow('unterminated');
    expect(shellWords(`a "b c" 'd e' f\\ g ""`)).toEqual(['a', 'b c', 'd e', 'f g', '']);
  });
});
