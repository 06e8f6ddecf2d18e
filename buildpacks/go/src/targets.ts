import { readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BuildpackError } from '../../lib/index.js';

/** One package to build and the binary (and process type) it becomes. */
export interface GoTarget {
  /** As go build takes it: `.`, `./cmd/a`. */
  package: string;
  /** The binary's file name and process type. */
  name: string;
}

/** Whether `dir` holds a non-test .go file declaring `package main` (build constraints are not evaluated). */
export async function isMainPackage(dir: string): Promise<boolean> {
  const files = await readdir(dir).catch((): string[] => []);
  for (const f of files.filter((f) => f.endsWith('.go') && !f.endsWith('_test.go')).sort()) {
    const text = await readFile(join(dir, f), 'utf8').catch(() => '');
    const withoutComments = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    if (/^\s*package\s+main\s*$/m.test(withoutComments)) return true;
  }
  return false;
}

/** `example.com/svc/v2` → `svc`: the binary name go build gives a module's root package. */
export function moduleBinaryName(modulePath: string): string {
  const parts = modulePath.split('/').filter(Boolean);
  let last = parts[parts.length - 1] ?? 'app';
  if (/^v\d+$/.test(last) && parts.length > 1) last = parts[parts.length - 2] as string;
  return last;
}

/** Normalises one BP_GO_TARGETS entry to `./x/y` (or `.`), refusing paths that leave the app. */
export function normaliseTarget(t: string): string {
  const clean = posix.normalize(t.trim().replace(/\/+$/, '') || '.');
  if (clean.startsWith('..') || posix.isAbsolute(clean)) throw new BuildpackError('CONFIG', `BP_GO_TARGETS: ${t} is outside the app directory`);
  return clean === '.' ? '.' : `./${clean.replace(/^\.\//, '')}`;
}

/**
 * The packages to build: BP_GO_TARGETS (colon-separated, e.g. `./cmd/a:./cmd/b`), else the main package at
 * the root, else each `./cmd/*` holding a main package. Names are basenames (the root's is the module's).
 */
export async function findTargets(appDir: string, modulePath: string, requested: string | undefined): Promise<GoTarget[]> {
  const toTarget = (pkg: string): GoTarget => ({ package: pkg, name: pkg === '.' ? moduleBinaryName(modulePath) : posix.basename(pkg) });
  let targets: GoTarget[];
  if (requested && requested.trim() !== '') {
    targets = requested.split(':').filter((s) => s.trim() !== '').map((s) => toTarget(normaliseTarget(s)));
    for (const t of targets) {
      if (!(await isMainPackage(join(appDir, t.package)))) throw new BuildpackError('CONFIG', `BP_GO_TARGETS: ${t.package} has no .go file with "package main" (no main package found there)`);
    }
  } else if (await isMainPackage(appDir)) {
    targets = [toTarget('.')];
  } else {
    const cmd = await readdir(join(appDir, 'cmd'), { withFileTypes: true }).catch(() => []);
    targets = [];
    for (const d of cmd.filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
      if (await isMainPackage(join(appDir, 'cmd', d))) targets.push(toTarget(`./cmd/${d}`));
    }
    if (targets.length === 0) {
      throw new BuildpackError('CONFIG', 'no main package found: the app root has no .go file with "package main", and no ./cmd/*/ has one; set BP_GO_TARGETS (e.g. ./cmd/server) to the packages to build');
    }
  }
  const seen = new Map<string, string>();
  for (const t of targets) {
    const other = seen.get(t.name);
    if (other) throw new BuildpackError('CONFIG', `BP_GO_TARGETS: ${other} and ${t.package} would both be named ${t.name}`);
    seen.set(t.name, t.package);
  }
  return targets;
}
