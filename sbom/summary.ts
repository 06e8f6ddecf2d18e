import { ecosystemOf, licenseText, type Component } from './model.js';

export interface SbomSummary {
  total: number;
  /** Packages per ecosystem (purl type; `unknown` without a purl), sorted by name. */
  ecosystems: { ecosystem: string; packages: number }[];
  /** How many packages carry each license (SPDX expression or the raw text), most first. */
  licenses: { license: string; packages: number; spdx: boolean }[];
  /** Packages without any license, or with one that is not SPDX. */
  unknownLicense: { name: string; version?: string; ecosystem: string; found?: string }[];
  /** Packages without a version or a purl. */
  incomplete: { name: string; missing: string[] }[];
}

/** The `lading sbom --format table` summary: packages by ecosystem, license counts, unknowns. */
export function summarize(components: readonly Component[]): SbomSummary {
  const eco = new Map<string, number>();
  const lic = new Map<string, { packages: number; spdx: boolean }>();
  const unknownLicense: SbomSummary['unknownLicense'] = [];
  const incomplete: SbomSummary['incomplete'] = [];
  for (const c of components) {
    const e = ecosystemOf(c);
    eco.set(e, (eco.get(e) ?? 0) + 1);
    for (const l of c.licenses) {
      const k = licenseText(l);
      const had = lic.get(k) ?? { packages: 0, spdx: l.kind === 'spdx' };
      lic.set(k, { ...had, packages: had.packages + 1 });
    }
    if (c.licenses.length === 0 || c.licenses.some((l) => l.kind !== 'spdx')) {
      const found = c.licenses.length ? c.licenses.map(licenseText).join('; ') : undefined;
      unknownLicense.push({ name: c.name, ...(c.version !== undefined ? { version: c.version } : {}), ecosystem: e, ...(found ? { found } : {}) });
    }
    const missing = [...(c.version === undefined ? ['version'] : []), ...(c.purl === undefined ? ['purl'] : [])];
    if (missing.length) incomplete.push({ name: c.name, missing });
  }
  return {
    total: components.length,
    ecosystems: [...eco].sort(([a], [b]) => (a < b ? -1 : 1)).map(([ecosystem, packages]) => ({ ecosystem, packages })),
    licenses: [...lic].sort(([a, x], [b, y]) => y.packages - x.packages || (a < b ? -1 : 1)).map(([license, v]) => ({ license, ...v })),
    unknownLicense,
    incomplete,
  };
}
