import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearAppDir, globRegExp, listFiles, sourceChecksum } from './app-files.js';

const dirs: string[] = [];
function app(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'go-app-'));
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

describe('app files', () => {
  it('the source checksum follows contents, paths and exec bits, not the location', async () => {
    const files = { 'go.mod': 'module m\n', 'main.go': 'package main\n', 'web/index.html': '<p>' };
    const a = await sourceChecksum(app(files));
    expect(await sourceChecksum(app(files))).toBe(a);
    expect(await sourceChecksum(app({ ...files, 'main.go': 'package main // x\n' }))).not.toBe(a);
    expect(await sourceChecksum(app({ ...files, 'go.sum': '' }))).not.toBe(a);
    const d = app(files);
    chmodSync(join(d, 'main.go'), 0o755);
    expect(await sourceChecksum(d)).not.toBe(a);
  });

  it('clearAppDir keeps only BP_KEEP_FILES matches', async () => {
    const d = app({ 'main.go': '', 'go.mod': '', 'assets/a.css': '', 'assets/img/b.png': '', 'public/x/y.html': '', 'config.yaml': '', 'docs/config.yaml': '' });
    const kept = await clearAppDir(d, 'assets/*:public/**:*.yaml');
    expect(kept).toEqual(['assets/a.css', 'assets/img/b.png', 'config.yaml', 'public/x/y.html']);
    expect(await listFiles(d)).toEqual(kept);
    await clearAppDir(d, undefined);
    expect(await listFiles(d)).toEqual([]);
  });

  it('globs: * stays in a segment, ** crosses, a directory keeps its contents', () => {
    expect(globRegExp('*.yaml').test('docs/a.yaml')).toBe(false);
    expect(globRegExp('**/*.yaml').test('docs/a.yaml')).toBe(true);
    expect(globRegExp('**/*.yaml').test('a.yaml')).toBe(true);
    expect(globRegExp('templates').test('templates/x/y.tmpl')).toBe(true);
    expect(globRegExp('a?.txt').test('ab.txt')).toBe(true);
  });
});
