/**
 * `exclude` patterns of a stack image: package files left out of that image's rootfs.
 *
 * A pattern is an absolute image path (after the merged-/usr move: `/usr/bin/…`, never `/bin/…`) whose
 * segments may hold `*` (any characters but `/`), `?` (one character but `/`) and `[…]` (a class, `[!…]`
 * negated); a segment `**` stands for any number of segments (also none). A pattern that matches a
 * directory leaves out everything under it too.
 */

/** Why `pattern` is not a valid exclude pattern, or undefined when it is. */
export function excludePatternProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'must be an absolute path in the image (starting with "/")';
  if (pattern === '/') return 'would leave out every file';
  if (pattern.endsWith('/')) return 'must not end with "/" (a directory pattern leaves out everything under it)';
  if (pattern.includes('\\')) return 'must not contain "\\" (no escapes: name the path as it is)';
  const segments = pattern.slice(1).split('/');
  for (const s of segments) {
    if (s === '') return 'must not contain an empty segment ("//")';
    if (s === '.' || s === '..') return `must not contain a "${s}" segment`;
    if (s.includes('**') && s !== '**') return '"**" must be a whole segment ("/**/")';
    const open = s.split('[').length - 1;
    if (open > 0 && !/^(?:[^[\]]|\[!?\]?[^\]]*\])*$/.test(s)) return `has an unclosed or nested "[" in "${s}"`;
    if (open === 0 && s.includes(']')) return `has a "]" without "[" in "${s}"`;
  }
  if (segments.every((s) => s === '**')) return 'would leave out every file';
  return undefined;
}

function segmentSource(segment: string): string {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      let j = i + 1;
      if (segment[j] === '!') j++;
      if (segment[j] === ']') j++; // a leading "]" is a member, not the end
      const end = segment.indexOf(']', j);
      let body = segment.slice(i + 1, end);
      const negated = body.startsWith('!');
      if (negated) body = body.slice(1);
      out += `[${negated ? '^/' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\]/g, (m) => `\\${m}`);
  }
  return out;
}

/** A regular expression matching the paths `pattern` names and every path under them. */
export function excludeRegExp(pattern: string): RegExp {
  const segments = pattern.slice(1).split('/');
  let source = '';
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '**') source += i === segments.length - 1 ? '(?:/[^/]+)*' : '(?:/[^/]+)*?';
    else source += `/${segmentSource(s)}`;
  }
  return new RegExp(`^${source}(?:/.*)?$`, 's');
}

/** Compiled patterns of one image; `match` says which pattern (index) leaves a path out, if any. */
export class ExcludeSet {
  private readonly res: RegExp[];
  constructor(readonly patterns: readonly string[]) {
    this.res = patterns.map(excludeRegExp);
  }
  /** Index of the first pattern leaving `path` out, or -1. */
  match(path: string): number {
    return this.res.findIndex((re) => re.test(path));
  }
}
