import { debPurl } from './purl.js';
import { normalizeLicense } from './licenses.js';
import type { Component, License } from './model.js';

export { STATUS_D } from './image-files.js';

/** One RFC 822-style control paragraph: field names lowercased, continuation lines joined with "\n". */
export function parseControl(text: string): Map<string, string>[] {
  const paragraphs: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.size > 0) paragraphs.push(current);
      current = new Map();
      last = undefined;
    } else if (/^[ \t]/.test(line)) {
      if (last) current.set(last, `${current.get(last)}\n${line.trim()}`);
    } else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).toLowerCase();
      current.set(last, line.slice(colon + 1).trim());
    }
  }
  if (current.size > 0) paragraphs.push(current);
  return paragraphs;
}

/** DEP-5 short names (copyright-format 1.0 §"License specification") that are not spelled as SPDX ids. */
const DEP5_NAMES: Record<string, string> = {
  expat: 'MIT', 'bsd-2-clause': 'BSD-2-Clause', 'bsd-3-clause': 'BSD-3-Clause', 'bsd-4-clause': 'BSD-4-Clause',
  zlib: 'Zlib', isc: 'ISC', 'cc0-1.0': 'CC0-1.0', 'artistic-2.0': 'Artistic-2.0', 'apache-2.0': 'Apache-2.0',
  'mpl-1.1': 'MPL-1.1', 'mpl-2.0': 'MPL-2.0', 'python-2.0': 'Python-2.0', 'zope-2.1': 'ZPL-2.1', 'ftl': 'FTL',
  'cc-by-4.0': 'CC-BY-4.0', 'cc-by-sa-4.0': 'CC-BY-SA-4.0', 'x11': 'X11', 'openssl': 'OpenSSL', 'curl': 'curl',
};

/** GPL-2 → GPL-2.0-only, GPL-2+ → GPL-2.0-or-later, LGPL-2.1+ → LGPL-2.1-or-later (the DEP-5 → SPDX rule). */
function gnuName(token: string): string | undefined {
  const m = /^(A?GPL|LGPL|GFDL)-(\d+(?:\.\d+)?)(\+)?$/i.exec(token);
  if (!m) return undefined;
  const family = m[1]!.toUpperCase();
  const version = m[2]!.includes('.') ? m[2]! : `${m[2]}.0`;
  return `${family}-${version}-${m[3] ? 'or-later' : 'only'}`;
}

/**
 * A DEP-5 `License:` short name or expression ("GPL-2+ or Artistic", "LGPL-2.1+ with OpenSSL exception"
 * is not SPDX) → an SPDX license when every part maps by the DEP-5 naming rules, else the raw text.
 */
export function dep5License(short: string): License {
  const raw = short.trim();
  const parts = raw.split(/\s+(or|and)\s+/i);
  const mapped: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (i % 2 === 1) {
      mapped.push(p.toUpperCase());
      continue;
    }
    const spdx = DEP5_NAMES[p.toLowerCase()] ?? gnuName(p);
    const license = normalizeLicense(spdx ?? p);
    if (!license || license.kind !== 'spdx') return { kind: 'named', name: raw };
    mapped.push(license.expression);
  }
  return normalizeLicense(mapped.join(' ')) ?? { kind: 'named', name: raw };
}

/** Licenses of a DEP-5 copyright file (every `Files:` paragraph's `License:` first line), or undefined if it is not DEP-5. */
export function copyrightLicenses(text: string): { licenses: License[]; raw: string[] } | undefined {
  const paragraphs = parseControl(text);
  if (!paragraphs[0]?.has('format') || !/copyright-format\/1\.0/.test(paragraphs[0].get('format')!)) return undefined;
  const raw: string[] = [];
  for (const p of paragraphs) {
    const l = p.get('license');
    if (!p.has('files') || !l) continue;
    const short = l.split('\n')[0]!.trim();
    if (short && !raw.includes(short)) raw.push(short);
  }
  const licenses: License[] = [];
  const seen = new Set<string>();
  for (const r of raw) {
    const l = dep5License(r);
    const key = JSON.stringify(l);
    if (!seen.has(key)) licenses.push(l);
    seen.add(key);
  }
  return { licenses, raw };
}

export interface DpkgInput {
  /** `var/lib/dpkg/status.d/<name>` files (relative paths) → contents; `*.md5sums` are ignored. */
  statusFiles: ReadonlyMap<string, string>;
  /** `usr/share/doc/<pkg>/copyright` → contents. */
  copyrightFiles: ReadonlyMap<string, string>;
  /** purl `distro` qualifier (`debian-12`) and vendor namespace (`debian`). */
  distro?: { id: string; versionId: string };
}

/** The OS packages of an image from its dpkg status.d records, with licenses from their DEP-5 copyright files. */
export function dpkgComponents(input: DpkgInput): Component[] {
  const out: Component[] = [];
  const vendor = input.distro?.id ?? 'debian';
  const distro = input.distro ? `${input.distro.id}-${input.distro.versionId}` : undefined;
  for (const [path, text] of [...input.statusFiles].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (path.endsWith('.md5sums')) continue;
    for (const p of parseControl(text)) {
      const name = p.get('package');
      const version = p.get('version');
      if (!name || !version) continue;
      const arch = p.get('architecture');
      const source = p.get('source');
      const upstream = source?.split(/\s+/)[0];
      const sourceVersion = /\(([^)]+)\)/.exec(source ?? '')?.[1];
      const properties: { name: string; value: string }[] = [];
      const docName = `usr/share/doc/${name}/copyright`;
      const copyright = input.copyrightFiles.get(docName);
      let licenses: License[] = [];
      if (copyright === undefined) {
        properties.push({ name: 'lading:license:undetermined', value: `no /${docName} in the image` });
      } else {
        const dep5 = copyrightLicenses(copyright);
        if (dep5) {
          licenses = dep5.licenses;
          if (dep5.raw.length) properties.push({ name: 'lading:deb:copyright-licenses', value: dep5.raw.join(', ') });
        } else {
          properties.push({ name: 'lading:license:undetermined', value: `/${docName} is not machine-readable (DEP-5)` });
        }
      }
      if (upstream && upstream !== name) properties.push({ name: 'lading:deb:source', value: sourceVersion ? `${upstream} ${sourceVersion}` : upstream });
      out.push({
        name,
        version,
        type: 'library',
        purl: debPurl({ vendor, name, version, ...(arch ? { arch } : {}), ...(distro ? { distro } : {}), ...(upstream ? { upstream } : {}) }),
        licenses,
        hashes: [],
        ...(p.get('maintainer') ? { supplier: p.get('maintainer')! } : {}),
        properties,
        sources: [{ buildpack: 'os', path: `/${path}` }],
      });
    }
  }
  return out;
}
