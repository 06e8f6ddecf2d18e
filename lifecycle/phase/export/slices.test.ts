import { describe, expect, it } from 'vitest';
import { processScript, shellQuote, sliceMatcher } from './index.js';

describe('buildpack.md "launch.toml [[slices]]"', () => {
  it('matches Go filepath.Match globs relative to the app dir or absolute under it; directories bring their subtree', () => {
    const match = sliceMatcher([{ paths: ['static/*.css'] }, { paths: ['/workspace/lib', 'b?n'] }], '/workspace');
    expect(match('static/a.css')).toBe(0);
    expect(match('static/a.js')).toBeUndefined();
    expect(match('lib/deep/x.js')).toBe(1);
    expect(match('bin')).toBe(1);
    expect(match('server.js')).toBeUndefined();
  });
});

describe('design.md §7 process scripts', () => {
  it('quotes for sh, applies the process env difference, and lets caller args replace the defaults', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const script = processScript(
      { type: 'web', command: ['node', 'a b.js'], args: ['--x'], default: true, buildpackId: 'bp' },
      { PATH: '/bin', GONE: '1' },
      { PATH: '/bin', MODE: 'x y' },
      '/workspace',
    );
    expect(script.split('\n')).toEqual([
      '#!/bin/sh',
      '# process "web" of bp; environment resolved at export (no launcher)',
      'unset GONE',
      "export MODE='x y'",
      'cd /workspace || exit 1',
      `if [ "$#" -gt 0 ]; then exec node 'a b.js' "$@"; fi`,
      "exec node 'a b.js' --x",
      '',
    ]);
  });
});
