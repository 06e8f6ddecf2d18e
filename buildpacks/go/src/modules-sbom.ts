import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SbomComponent } from '../../lib/index.js';
import { goSemver } from './version.js';

/** What `go version -m` prints about one binary: the Go version, the main module and the dependencies. */
export interface BuildInfo {
  goVersion: string;
  path?: string;
  main?: { path: string; version: string };
  deps: { path: string; version: string; sum?: string; replacedBy?: { path: string; version: string } }[];
  settings: Record<string, string>;
}

/** Parses `go version -m <binary>` output (tab-separated lines under the `<file>: go1.x` header). */
export function parseBuildInfo(text: string): BuildInfo {
  const info: BuildInfo = { goVersion: '', deps: [], settings: {} };
  for (const line of text.split('\n')) {
    const head = /^\S.*: (go\S+)$/.exec(line);
    if (head) {
      info.goVersion = head[1] as string;
      continue;
    }
    const [kind, a, b, c] = line.trim().split('\t');
    if (kind === 'path' && a) info.path = a;
    else if (kind === 'mod' && a) info.main = { path: a, version: b ?? '' };
    else if (kind === 'dep' && a) info.deps.push({ path: a, version: b ?? '', ...(c ? { sum: c } : {}) });
    else if (kind === '=>' && a && info.deps.length) (info.deps[info.deps.length - 1] as BuildInfo['deps'][number]).replacedBy = { path: a, version: b ?? '' };
    else if (kind === 'build' && a) {
      const eq = a.indexOf('=');
      if (eq > 0) info.settings[a.slice(0, eq)] = a.slice(eq + 1);
    }
  }
  return info;
}

/** `pkg:golang/<path>@<version>`: the purl spec's golang type, the module path as namespace/name. */
export function golangPurl(path: string, version?: string): string {
  const enc = path.split('/').map(encodeURIComponent).join('/');
  return version && version !== '(devel)' ? `pkg:golang/${enc}@${encodeURIComponent(version)}` : `pkg:golang/${enc}`;
}

/** Licence ids recognised from a licence file's text; only unmistakable texts, never a guess. */
export function licenseFromText(text: string): string | undefined {
  const t = text.replace(/\s+/g, ' ');
  if (/Apache License,? Version 2\.0/i.test(t) && /TERMS AND CONDITIONS/i.test(t)) return 'Apache-2.0';
  if (/Mozilla Public License,? (version )?2\.0/i.test(t)) return 'MPL-2.0';
  if (/Permission is hereby granted, free of charge, to any person obtaining a copy/i.test(t) && /THE SOFTWARE IS PROVIDED "AS IS"/i.test(t)) return 'MIT';
  if (/Permission to use, copy, modify, and\/or distribute this software for any purpose/i.test(t)) return 'ISC';
  if (/Redistribution and use in source and binary forms/i.test(t)) {
    if (/Neither the name|names of its contributors/i.test(t)) return 'BSD-3-Clause';
    return 'BSD-2-Clause';
  }
  return undefined;
}

/** The module cache's path escaping: `Upper` → `!upper`. */
function escapeModulePath(p: string): string {
  return p.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** Licences of a module from its directory in vendor/ or the module cache (LICENSE*, COPYING*). */
export async function moduleLicenses(dirs: string[]): Promise<string[]> {
  for (const dir of dirs) {
    const files = (await readdir(dir).catch((): string[] => [])).filter((f) => /^(LICEN[CS]E|COPYING)(\.(md|txt))?$/i.test(f)).sort();
    const found = new Set<string>();
    for (const f of files) {
      const id = licenseFromText(await readFile(join(dir, f), 'utf8').catch(() => ''));
      if (id) found.add(id);
    }
    if (files.length) return [...found].sort();
  }
  return [];
}

/**
 * SBOM components of the binaries: the Go standard library at the toolchain's version, each main module
 * and each module linked in, with licences where vendor/ or the module cache hold a licence file.
 */
export async function binaryComponents(infos: BuildInfo[], appDir: string, modCache: string | undefined): Promise<SbomComponent[]> {
  const out: SbomComponent[] = [];
  for (const info of infos) {
    const std = goSemver(info.goVersion);
    if (std) out.push({ name: 'stdlib', version: info.goVersion, type: 'library', purl: golangPurl('stdlib', `v${std}`).replace('@v', '@'), licenses: ['BSD-3-Clause'] });
    if (info.main) out.push({ name: info.main.path, version: info.main.version, type: 'application', purl: golangPurl(info.main.path, info.main.version) });
    for (const d of info.deps) {
      const m = d.replacedBy && d.replacedBy.version ? d.replacedBy : d;
      const dirs = [join(appDir, 'vendor', d.path), ...(modCache ? [join(modCache, `${escapeModulePath(m.path)}@${m.version}`)] : [])];
      const c: SbomComponent = { name: d.path, version: d.version, type: 'library', purl: golangPurl(d.path, d.version), licenses: await moduleLicenses(dirs) };
      out.push(c);
    }
  }
  return out;
}
