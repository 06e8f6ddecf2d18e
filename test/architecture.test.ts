import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** design.md §2's dependency rules, checked on the real import graph. */
const ROOT = resolve(import.meta.dirname, '..');
const AREAS = ['registry', 'lifecycle', 'buildpacks', 'stacks', 'sbom'];

interface Edge { from: string; to: string; spec: string }

function sources(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'fixtures' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const files = AREAS.flatMap((a) => sources(join(ROOT, a)));
const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) specs.push((m[1] ?? m[2]) as string);
  return specs;
}

const edges: Edge[] = files.flatMap((file) =>
  importsOf(file).map((spec) => ({
    from: relative(ROOT, file),
    to: spec.startsWith('.') ? relative(ROOT, resolve(dirname(file), spec)) : spec,
    spec,
  })),
);
const internal = edges.filter((e) => e.spec.startsWith('.'));

describe('design.md §2: dependency direction', () => {
  it('finds the sources it checks', () => {
    expect(files.length).toBeGreaterThan(10);
    expect(internal.length).toBeGreaterThan(10);
  });

  it('registry/oci imports nothing internal outside itself', () => {
    const bad = internal.filter((e) => e.from.startsWith('registry/oci/') && !e.to.startsWith('registry/oci/'));
    expect(bad).toEqual([]);
  });

  it('registry/ depends on no other area', () => {
    const bad = internal.filter((e) => e.from.startsWith('registry/') && !e.to.startsWith('registry/'));
    expect(bad).toEqual([]);
  });

  it('lifecycle/ never imports buildpacks/ (buildpacks are processes speaking the CNB contract)', () => {
    const bad = internal.filter((e) => e.from.startsWith('lifecycle/') && e.to.startsWith('buildpacks/'));
    expect(bad).toEqual([]);
  });

  it('buildpacks/ never import lifecycle/ or registry/ (a buildpack is its own program)', () => {
    const bad = internal.filter((e) => e.from.startsWith('buildpacks/') && (e.to.startsWith('lifecycle/') || e.to.startsWith('registry/')));
    expect(bad).toEqual([]);
  });

  it('sbom/ and stacks/ make no network calls of their own', () => {
    const net = /^(undici|node:https?|node:net|node:dgram|node:tls|https?|net)$/;
    const bad = edges.filter(
      (e) => (e.from.startsWith('sbom/') || e.from.startsWith('stacks/')) && (net.test(e.spec) || e.to.startsWith('registry/remote')),
    );
    expect(bad).toEqual([]);
  });

  it('only lifecycle/cli wires the CLI; nothing imports it', () => {
    const bad = internal.filter((e) => e.to.startsWith('lifecycle/cli/') && !e.from.startsWith('lifecycle/cli/'));
    expect(bad).toEqual([]);
  });

  it('folders are entered through their index.ts barrel', () => {
    // A module is an area's direct sub-folder (registry/oci, lifecycle/cli); inside one, any import goes.
    const moduleOf = (p: string) => p.split('/').slice(0, 2).join('/');
    const bad = internal.filter((e) => {
      if (dirname(e.to).split('/').length < 2) return false; // a file directly in an area (registry/reference.ts)
      if (moduleOf(e.from) === moduleOf(e.to)) return false;
      return !e.to.endsWith('/index.js');
    });
    expect(bad).toEqual([]);
  });
});

describe('libraries never print (style.md)', () => {
  it('no console or process.stdout/stderr writes outside lifecycle/cli and buildpack entry points', () => {
    const offenders = files.filter((f) => {
      const rel = relative(ROOT, f);
      // Buildpack entry points (bin/ and main.ts) are processes whose output is the CNB contract.
      if (rel.startsWith('lifecycle/cli/') || /^buildpacks\/.*(\/bin\/|\/main\.ts$)/.test(rel)) return false;
      // String literals are blanked first: a command a buildpack writes into launch.toml is not a print.
      const text = readFileSync(f, 'utf8').replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
      return /\bconsole\.(log|error|warn|info|debug)\(|process\.(stdout|stderr)\.write\(/.test(text);
    });
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
