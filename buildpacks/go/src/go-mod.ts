import { readFile } from 'node:fs/promises';
import { BuildpackError } from '../../lib/index.js';

/** What the buildpack needs from go.mod: the module path and the go/toolchain directives. */
export interface GoMod {
  module: string;
  /** The `go` directive (`1.19`, `1.21.0`), if any. */
  go?: string;
  /** The `toolchain` directive without its `go` prefix (`1.21.3`), if any. */
  toolchain?: string;
  /** Module paths in `require` directives. */
  requires: { path: string; version: string }[];
}

const DIRECTIVES = new Set(['module', 'go', 'toolchain', 'godebug', 'require', 'replace', 'exclude', 'retract']);
const GO_VERSION = /^[1-9]\d*\.\d+(\.\d+)?((rc|beta)\d+)?$/;

/** Splits one go.mod line into tokens: strips `//` comments, keeps quoted strings whole. */
function tokens(line: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|`[^`]*`|\/\/.*$|[^\s"`]+/g;
  for (const m of line.matchAll(re)) {
    if (m[0].startsWith('//')) break;
    out.push(m[0].replace(/^["`]|["`]$/g, ''));
  }
  return out;
}

/**
 * Parses go.mod text the way the go command reads its syntax (directives, `( … )` blocks, comments), so a
 * malformed file is refused with its line number before any toolchain is installed.
 */
export function parseGoMod(text: string, file = 'go.mod'): GoMod {
  const fail = (line: number, why: string): never => {
    throw new BuildpackError('CONFIG', `${file}:${line}: ${why}`);
  };
  const mod: Partial<GoMod> & { requires: GoMod['requires'] } = { requires: [] };
  let block: { verb: string; line: number } | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const t = tokens(raw);
    if (t.length === 0) return;
    if (block) {
      if (t.length === 1 && t[0] === ')') {
        block = undefined;
        return;
      }
      entry(block.verb, t, n);
      return;
    }
    const verb = t[0] as string;
    if (!DIRECTIVES.has(verb)) fail(n, `unknown directive: ${verb}`);
    if (t[1] === '(' && t.length === 2) {
      if (verb === 'module' || verb === 'go' || verb === 'toolchain') fail(n, `${verb} cannot be a block`);
      block = { verb, line: n };
      return;
    }
    entry(verb, t.slice(1), n);
  });
  if (block) fail(block.line, `unterminated ${block.verb} block: missing ")"`);
  if (!mod.module) fail(1, 'no module directive (a go.mod starts with "module <path>")');
  return mod as GoMod;

  function entry(verb: string, args: string[], n: number): void {
    switch (verb) {
      case 'module':
        if (args.length !== 1) fail(n, 'usage: module module/path');
        if (mod.module !== undefined) fail(n, 'repeated module statement');
        mod.module = args[0] as string;
        break;
      case 'go':
        if (args.length !== 1 || !GO_VERSION.test(args[0] as string)) fail(n, `invalid go version '${args.join(' ')}': must match format 1.23 or 1.23.0`);
        if (mod.go !== undefined) fail(n, 'repeated go statement');
        mod.go = args[0] as string;
        break;
      case 'toolchain': {
        const v = (args[0] ?? '').replace(/^go/, '');
        if (args.length !== 1 || !(args[0] === 'default' || (args[0]?.startsWith('go') && GO_VERSION.test(v)))) fail(n, `invalid toolchain '${args.join(' ')}': must be go1.23.0 or default`);
        if (args[0] !== 'default') mod.toolchain = v;
        break;
      }
      case 'require':
        if (args.length !== 2 || !/^v\d/.test(args[1] as string)) fail(n, `usage: require module/path v1.2.3 (got "${args.join(' ')}")`);
        mod.requires.push({ path: args[0] as string, version: args[1] as string });
        break;
      case 'replace':
        if (!args.includes('=>')) fail(n, 'usage: replace module/path [v1.2.3] => other/module v1.4 (missing "=>")');
        break;
      default:
        if (args.length === 0) fail(n, `usage: ${verb} needs an argument`);
    }
  }
}

/** Reads and parses `<dir>/go.mod`; the error names the file and line. */
export async function readGoMod(path: string, shown = 'go.mod'): Promise<GoMod> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BuildpackError('CONFIG', `${shown}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  return parseGoMod(text, shown);
}
