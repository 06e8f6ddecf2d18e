import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SbomComponent } from '../../lib/index.js';

/** Trove licence classifiers (`License :: OSI Approved :: …`) with an SPDX id; others are kept as raw text. */
const CLASSIFIERS: Record<string, string> = {
  'MIT License': 'MIT',
  'MIT No Attribution License (MIT-0)': 'MIT-0',
  'Apache Software License': 'Apache-2.0',
  'BSD License': 'BSD-3-Clause',
  'ISC License (ISCL)': 'ISC',
  'Python Software Foundation License': 'PSF-2.0',
  'Mozilla Public License 2.0 (MPL 2.0)': 'MPL-2.0',
  'GNU General Public License v2 (GPLv2)': 'GPL-2.0-only',
  'GNU General Public License v3 (GPLv3)': 'GPL-3.0-only',
  'GNU General Public License v2 or later (GPLv2+)': 'GPL-2.0-or-later',
  'GNU General Public License v3 or later (GPLv3+)': 'GPL-3.0-or-later',
  'GNU Lesser General Public License v2 (LGPLv2)': 'LGPL-2.0-only',
  'GNU Lesser General Public License v2 or later (LGPLv2+)': 'LGPL-2.0-or-later',
  'GNU Lesser General Public License v3 (LGPLv3)': 'LGPL-3.0-only',
  'GNU Lesser General Public License v3 or later (LGPLv3+)': 'LGPL-3.0-or-later',
  'GNU Affero General Public License v3': 'AGPL-3.0-only',
  'GNU Affero General Public License v3 or later (AGPLv3+)': 'AGPL-3.0-or-later',
  'Eclipse Public License 2.0 (EPL-2.0)': 'EPL-2.0',
  'The Unlicense (Unlicense)': 'Unlicense',
  'Zope Public License': 'ZPL-2.1',
  'Boost Software License 1.0 (BSL-1.0)': 'BSL-1.0',
  'Universal Permissive License (UPL)': 'UPL-1.0',
  'zlib/libpng License': 'Zlib',
};

/** Core metadata (METADATA / PKG-INFO): RFC 822 headers, repeated fields collected; the body is the description. */
export function parseCoreMetadata(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (/^[ \t]/.test(line) && last) {
      const values = out.get(last) as string[];
      values[values.length - 1] += `\n${line.replace(/^ {7}\|?/, '').trimEnd()}`;
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (!m) continue;
    last = (m[1] as string).toLowerCase();
    out.set(last, [...(out.get(last) ?? []), (m[2] as string).trimEnd()]);
  }
  return out;
}

/** PEP 503 normalised name, as purl's pypi type wants it (lower case, runs of `-_.` → `-`). */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * The declared licences of a distribution: `License-Expression` (PEP 639) when present, else the licence
 * classifiers (SPDX ids where one fits, the classifier text otherwise), else the `License` field's text.
 * Raw text is kept as is; the SBOM writer marks what is not an SPDX id as unknown. Nothing is guessed.
 */
export function distributionLicenses(meta: Map<string, string[]>): string[] {
  const expression = meta.get('license-expression')?.[0]?.trim();
  if (expression) return [expression];
  const fromClassifiers = (meta.get('classifier') ?? [])
    .map((c) => c.trim())
    .filter((c) => c.startsWith('License :: '))
    .map((c) => {
      const leaf = c.split('::').map((s) => s.trim()).pop() as string;
      return CLASSIFIERS[leaf] ?? c;
    })
    .filter((c) => c !== 'License :: OSI Approved');
  if (fromClassifiers.length) return [...new Set(fromClassifiers)];
  const license = meta.get('license')?.[0]?.trim();
  return license && license.toUpperCase() !== 'UNKNOWN' ? [license] : [];
}

/** An installed distribution from its `*.dist-info`: name, version, purl, licences, and its console scripts. */
export interface Distribution {
  component: SbomComponent;
  /** PEP 503 name. */
  name: string;
}

/** Every distribution installed in `siteDir` (its `*.dist-info/METADATA`), sorted by name. */
export async function installedDistributions(siteDir: string): Promise<Distribution[]> {
  const entries = await readdir(siteDir).catch((): string[] => []);
  const out: Distribution[] = [];
  for (const e of entries.filter((n) => n.endsWith('.dist-info')).sort()) {
    const text = await readFile(join(siteDir, e, 'METADATA'), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const meta = parseCoreMetadata(text);
    const name = meta.get('name')?.[0]?.trim();
    const version = meta.get('version')?.[0]?.trim();
    if (!name || !version) continue;
    const n = normaliseName(name);
    const component: SbomComponent = { name, version, purl: `pkg:pypi/${n}@${encodeURIComponent(version)}`, licenses: distributionLicenses(meta) };
    const home = meta.get('home-page')?.[0]?.trim();
    if (home && /^https?:\/\//.test(home)) component.downloadLocation = home;
    out.push({ component, name: n });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
