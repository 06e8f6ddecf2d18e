/**
 * Docker token scopes: `resourcetype:resourcename:action[,action]*`. The name may contain a `:` (a host
 * port), so the type is cut at the first colon and the actions at the last.
 */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/** resource (`type:name`) → actions, in first-seen order. */
function parse(scopes: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const scope of scopes.flatMap((s) => s.split(/\s+/)).filter(Boolean)) {
    const last = scope.lastIndexOf(':');
    if (last <= 0) continue;
    const resource = scope.slice(0, last);
    const actions = out.get(resource) ?? [];
    for (const a of scope.slice(last + 1).split(',').filter(Boolean)) if (!actions.includes(a)) actions.push(a);
    out.set(resource, actions);
  }
  return out;
}

/** The union of scope lists, one entry per resource, order of first appearance kept. */
export function unionScopes(...lists: readonly (readonly string[])[]): string[] {
  return [...parse(lists.flat())].map(([resource, actions]) => `${resource}:${actions.join(',')}`);
}

/** Whether a token granted for `have` also serves a request needing `want` (`*` grants everything). */
export function scopesCover(have: readonly string[], want: readonly string[]): boolean {
  const granted = parse(have);
  for (const [resource, actions] of parse(want)) {
    const g = granted.get(resource);
    if (!g) return false;
    if (!g.includes('*') && !actions.every((a) => g.includes(a))) return false;
  }
  return true;
}

/** A stable cache key for a scope list. */
export function scopeKey(scopes: readonly string[]): string {
  return unionScopes(scopes)
    .map((s) => {
      const last = s.lastIndexOf(':');
      return `${s.slice(0, last)}:${s.slice(last + 1).split(',').sort().join(',')}`;
    })
    .sort()
    .join(' ');
}
