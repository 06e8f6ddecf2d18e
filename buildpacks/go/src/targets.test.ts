import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTargets, moduleBinaryName, normaliseTarget } from './targets.js';

const dirs: string[] = [];
function app(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'go-targets-'));
  dirs.push(d);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), c);
  }
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('targets', () => {
  it('the root main package first, named after the module', async () => {
    const d = app({ 'main.go': '// a\npackage main\n', 'cmd/tool/main.go': 'package main\n' });
    expect(await findTargets(d, 'example.com/svc/v2', undefined)).toEqual([{ package: '.', name: 'svc' }]);
  });
  it('else each ./cmd/* with a main package, sorted; libraries and tests do not count', async () => {
    const d = app({ 'lib.go': 'package lib\n', 'cmd/b/main.go': 'package main\n', 'cmd/a/main.go': '/* package lib */\npackage main\n', 'cmd/c/c.go': 'package c\n', 'cmd/d/x_test.go': 'package main\n' });
    expect(await findTargets(d, 'example.com/m', undefined)).toEqual([
      { package: './cmd/a', name: 'a' },
      { package: './cmd/b', name: 'b' },
    ]);
  });
  it('BP_GO_TARGETS picks packages; a non-main package or none at all is a clear error', async () => {
    const d = app({ 'lib.go': 'package lib\n', 'tools/gen/main.go': 'package main\n' });
    expect(await findTargets(d, 'm', './tools/gen/')).toEqual([{ package: './tools/gen', name: 'gen' }]);
    await expect(findTargets(d, 'm', './')).rejects.toThrow('BP_GO_TARGETS: . has no .go file with "package main"');
    await expect(findTargets(d, 'm', undefined)).rejects.toThrow('no main package found');
    await expect(findTargets(d, 'm', '../x')).rejects.toThrow('outside the app directory');
  });
  it('names', () => {
    expect(moduleBinaryName('example.com/go-http')).toBe('go-http');
    expect(normaliseTarget('cmd/a')).toBe('./cmd/a');
    expect(normaliseTarget('.')).toBe('.');
  });
});
