import { describe, expect, it } from 'vitest';
import { parseGoMod } from './go-mod.js';

describe('parseGoMod', () => {
  it('reads module, go, toolchain and requires, with blocks and comments', () => {
    const mod = parseGoMod(['// a service', 'module example.com/svc // the path', '', 'go 1.21.0', 'toolchain go1.22.3', 'require (', '\texample.com/a v1.2.0', '\texample.com/b v0.1.0 // indirect', ')', 'replace example.com/a => ../a'].join('\n'));
    expect(mod).toEqual({ module: 'example.com/svc', go: '1.21.0', toolchain: '1.22.3', requires: [{ path: 'example.com/a', version: 'v1.2.0' }, { path: 'example.com/b', version: 'v0.1.0' }] });
  });

  it('refuses malformed files naming the file and line', () => {
    expect(() => parseGoMod('module x\ngo one.nineteen\n', 'app/go.mod')).toThrow("app/go.mod:2: invalid go version 'one.nineteen'");
    expect(() => parseGoMod('module x\nfrobnicate y\n')).toThrow('go.mod:2: unknown directive: frobnicate');
    expect(() => parseGoMod('module x\nrequire (\n  a v1.0.0\n')).toThrow('go.mod:2: unterminated require block');
    expect(() => parseGoMod('go 1.19\n')).toThrow('go.mod:1: no module directive');
    expect(() => parseGoMod('module x\nrequire a\n')).toThrow('go.mod:2: usage: require');
    expect(() => parseGoMod('module x\ntoolchain 1.22\n')).toThrow("go.mod:2: invalid toolchain '1.22'");
  });
});
