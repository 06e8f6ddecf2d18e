import { compareComponents, componentKey, type Component, type License } from './model.js';

/** Licenses naming a `LicenseRef-…` without its text (a CycloneDX expression) say less than the same licenses with the text. */
const unresolved = (ls: readonly License[]) => ls.some((l) => l.kind === 'spdx' && /LicenseRef-/.test(l.expression));

const byJson = <T>(list: readonly T[]): T[] => {
  const seen = new Map<string, T>();
  for (const x of list) seen.set(JSON.stringify(x), x);
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
};

/**
 * Merges components that are the same package (same purl; without a purl, same type, group, name and
 * version): the first one's fields win, licenses are taken from the first that has any (one that has the
 * text of a LicenseRef the first only names wins over it), hashes,
 * properties and sources are united. The result is sorted by purl (then name), every list inside sorted.
 */
export function mergeComponents(...lists: readonly (readonly Component[])[]): Component[] {
  const merged = new Map<string, Component>();
  for (const c of lists.flat()) {
    const key = componentKey(c);
    const had = merged.get(key);
    if (!had) {
      merged.set(key, { ...c, licenses: [...c.licenses], hashes: [...c.hashes], properties: [...c.properties], sources: [...c.sources] });
      continue;
    }
    if (had.licenses.length === 0 || (unresolved(had.licenses) && c.licenses.length > 0 && !unresolved(c.licenses))) had.licenses = [...c.licenses];
    had.hashes.push(...c.hashes);
    had.properties.push(...c.properties);
    had.sources.push(...c.sources);
    for (const f of ['cpe', 'supplier', 'group'] as const) if (had[f] === undefined && c[f] !== undefined) had[f] = c[f];
  }
  return [...merged.values()]
    .map((c) => ({ ...c, hashes: byJson(c.hashes), properties: byJson(c.properties), sources: byJson(c.sources) }))
    .sort(compareComponents);
}
