import { posix } from 'node:path';
import type { Slice } from '../../buildpack/index.js';

/**
 * App slices (buildpack.md "launch.toml [[slices]]"): each slice's `paths` are globs relative to the app dir
 * (or absolute under it) with Go's filepath.Match syntax (`*`, `?`, `[...]`, no `**`); a matched directory
 * brings its whole subtree. A file belongs to the first slice that matches it; the rest form the app layer.
 */
export function sliceMatcher(slices: readonly Slice[], appMount: string): (relativePath: string) => number | undefined {
  const patterns = slices.map((s) => s.paths.map((p) => globRegExp(relativePattern(p, appMount))));
  return (rel) => {
    const prefixes = ancestors(rel);
    for (const [i, res] of patterns.entries()) {
      if (res.some((re) => prefixes.some((p) => re.test(p)))) return i;
    }
    return undefined;
  };
}

function relativePattern(p: string, appMount: string): string {
  const norm = posix.normalize(p);
  return posix.isAbsolute(norm) ? posix.relative(appMount, norm) : norm.replace(/^\.\//, '');
}

/** `a/b/c` → [`a`, `a/b`, `a/b/c`]. */
function ancestors(rel: string): string[] {
  const parts = rel.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Go filepath.Match syntax to an anchored RegExp. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (body.startsWith('^')) body = `^${body.slice(1)}`;
      re += `[${body}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) {
      re += glob[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
