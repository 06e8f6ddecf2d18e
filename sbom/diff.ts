import { andOperands } from './licenses.js';
import { componentKey, ecosystemOf, licenseText, type Component } from './model.js';

export interface PackageChange {
  ecosystem: string;
  name: string;
  before?: { version?: string; licenses: string[] };
  after?: { version?: string; licenses: string[] };
  kind: 'added' | 'removed' | 'version' | 'license' | 'version+license';
}

/** A package's identity across versions: its purl without version and qualifiers other than arch, else type/name. */
export function packageIdentity(c: Component): string {
  if (c.purl) {
    const [base, query] = c.purl.split('?');
    const noVersion = base!.replace(/@[^@/]*$/, '');
    const arch = new URLSearchParams(query ?? '').get('arch');
    return arch ? `${noVersion}?arch=${arch}` : noVersion;
  }
  return `${c.type}:${c.group ? `${c.group}/` : ''}${c.name}`;
}

/**
 * The licenses in effect, as a sorted set: SPDX expressions split at their top-level AND, so
 * `GPL-2.0-or-later AND MPL-2.0` (one expression, as a CycloneDX document holds it) and the two licenses
 * a DEP-5 file names separately are the same licensing, not a change.
 */
const licensesOf = (c: Component) => [...new Set(c.licenses.flatMap((l) => (l.kind === 'spdx' ? andOperands(l.expression) : [licenseText(l)])))].sort();

/** Packages added, removed, and changed in version or license from `a` to `b`, sorted by ecosystem and name. */
export function diffComponents(a: readonly Component[], b: readonly Component[]): PackageChange[] {
  const group = (list: readonly Component[]) => {
    const m = new Map<string, Component[]>();
    for (const c of list) m.set(packageIdentity(c), [...(m.get(packageIdentity(c)) ?? []), c]);
    return m;
  };
  const before = group(a);
  const after = group(b);
  const out: PackageChange[] = [];
  const view = (c: Component) => ({ ...(c.version !== undefined ? { version: c.version } : {}), licenses: licensesOf(c) });
  for (const id of [...new Set([...before.keys(), ...after.keys()])]) {
    const was = before.get(id) ?? [];
    const now = after.get(id) ?? [];
    // Several versions of one package (npm allows it): compare as sets of versions.
    const wasKeys = new Set(was.map(componentKey));
    const nowKeys = new Set(now.map(componentKey));
    const gone = was.filter((c) => !nowKeys.has(componentKey(c)));
    const added = now.filter((c) => !wasKeys.has(componentKey(c)));
    const head = (c: Component) => ({ ecosystem: ecosystemOf(c), name: c.group ? `${c.group}/${c.name}` : c.name });
    if (gone.length === 1 && added.length === 1) {
      const [x, y] = [gone[0]!, added[0]!];
      const v = x.version !== y.version;
      const l = licensesOf(x).join() !== licensesOf(y).join();
      out.push({ ...head(y), before: view(x), after: view(y), kind: v && l ? 'version+license' : v ? 'version' : 'license' });
      continue;
    }
    for (const x of gone) out.push({ ...head(x), before: view(x), kind: 'removed' });
    for (const y of added) out.push({ ...head(y), after: view(y), kind: 'added' });
    // Same purl both sides but another license (a re-issued package).
    for (const x of was) {
      const y = now.find((c) => componentKey(c) === componentKey(x));
      if (y && licensesOf(x).join() !== licensesOf(y).join()) out.push({ ...head(y), before: view(x), after: view(y), kind: 'license' });
    }
  }
  return out.sort((p, q) => (`${p.ecosystem}/${p.name}/${p.kind}` < `${q.ecosystem}/${q.name}/${q.kind}` ? -1 : 1));
}
