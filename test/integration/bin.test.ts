import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'lading');

describe('./bin/lading (after npm ci / npm run build)', () => {
  it('is built', () => {
    expect(existsSync(join(ROOT, 'dist', 'lifecycle', 'cli', 'main.js')), 'dist/ is missing: `npm test` builds it first (tsc)').toBe(true);
  });

  it('prints help with every command and examples', () => {
    const out = execFileSync(BIN, ['--help']).toString();
    for (const cmd of ['copy', 'inspect', 'images', 'push']) expect(out).toContain(`lading ${cmd}`);
    const copyHelp = execFileSync(BIN, ['copy', '--help']).toString();
    expect(copyHelp).toContain('Examples:');
  });

  it('loads the bundle without building what only help text needs (string-width on first call)', () => {
    // scripts/bundle-buildpacks.mjs LAZY_DEFAULT_PACKAGES: an Intl.Segmenter costs ~17 ms of ICU loading
    const probe = [
      'let made = 0;',
      'const S = Intl.Segmenter;',
      'Intl.Segmenter = class extends S { constructor(...a) { super(...a); made++; } };',
      `const m = await import(${JSON.stringify(join(ROOT, 'dist', 'bundle', 'lading.mjs'))});`,
      'const atLoad = made;',
      "await m.run(['copy', '--help']);",
      'process.stderr.write(JSON.stringify({ atLoad, afterHelp: made }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('{')))).toEqual({ atLoad: 0, afterHelp: expect.any(Number) });
    expect(JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('{'))).afterHelp).toBeGreaterThan(0);
  });

  it('exits 2 on an unknown command or flag, with one line on stderr', () => {
    const r = spawnSync(BIN, ['frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^lading: /);
    const missing = spawnSync(BIN, ['copy', 'only-a-source'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^lading: Not enough non-option arguments/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const f = spawnSync(BIN, ['images', '--bogus-flag'], { encoding: 'utf8' });
    expect(f.status).toBe(2);
    expect(f.stderr).toMatch(/bogus-flag/);
  });

  it('reports errors as JSON under --json', () => {
    const r = spawnSync(BIN, ['inspect', 'oci:/nonexistent/layout', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(4);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'NOT_FOUND', exitCode: 4 } });
  });

  it('lists an empty store', () => {
    const home = mkdtempSync(join(tmpdir(), 'lading-home-'));
    try {
      const out = execFileSync(BIN, ['images', '--json'], { env: { ...process.env, LADING_HOME: home } }).toString();
      expect(JSON.parse(out)).toEqual({ images: [] });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
