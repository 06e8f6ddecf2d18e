import { createRequire } from 'node:module';
import parse from 'spdx-expression-parse';
import type { License } from './model.js';

const require = createRequire(import.meta.url);
const IDS = new Set<string>(require('spdx-license-ids') as string[]);
const DEPRECATED = new Set<string>(require('spdx-license-ids/deprecated.json') as string[]);
const BY_LOWER = new Map<string, string>([...IDS, ...DEPRECATED].map((id) => [id.toLowerCase(), id]));

/** Whether `id` is an SPDX license id (current or deprecated), exactly as spelled. */
export function isSpdxId(id: string): boolean {
  return IDS.has(id) || DEPRECATED.has(id);
}

export function isDeprecatedSpdxId(id: string): boolean {
  return DEPRECATED.has(id);
}

/** Whether `text` parses as an SPDX license expression (ids, `+`, WITH, AND/OR, LicenseRef-). */
export function isSpdxExpression(text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The SPDX ids an expression names (LicenseRef-* excluded). Throws on an invalid expression. */
export function licenseIdsOf(expression: string): string[] {
  const out: string[] = [];
  const walk = (node: parse.Info): void => {
    if ('license' in node) {
      if (!node.license.startsWith('LicenseRef-') && !node.license.startsWith('DocumentRef-')) out.push(node.license);
    } else {
      walk(node.left);
      walk(node.right);
    }
  };
  walk(parse(expression));
  return out;
}

/**
 * Normalizes one license string as found (supplychain.md §7). Nothing is guessed: a valid SPDX id or
 * expression is kept (an id differing only in case is fixed, since that is a spelling, not a guess);
 * `UNLICENSED` (npm: proprietary) stays UNLICENSED, never the Unlicense; anything else — "SEE LICENSE IN x",
 * "BSD", "Apache 2" — is kept verbatim as a named license, which the writers mark as not SPDX.
 */
export function normalizeLicense(raw: string): License | undefined {
  const text = raw.trim();
  if (text === '' || text === 'NOASSERTION' || text === 'NONE') return undefined;
  if (text === 'UNLICENSED') return { kind: 'unlicensed' };
  const unwrapped = /^\((.*)\)$/.test(text) && isSpdxExpression(text.slice(1, -1)) ? text.slice(1, -1) : text;
  if (isSpdxExpression(unwrapped)) return { kind: 'spdx', expression: unwrapped };
  const byCase = BY_LOWER.get(unwrapped.toLowerCase());
  if (byCase) return { kind: 'spdx', expression: byCase };
  // Lowercase operators ("MIT or Apache-2.0") are a spelling variant too; ids must still exist exactly.
  const upperOps = unwrapped.replace(/\s+(and|or|with)\s+/gi, (_m, op: string) => ` ${op.toUpperCase()} `);
  if (upperOps !== unwrapped && isSpdxExpression(upperOps)) return { kind: 'spdx', expression: upperOps };
  return { kind: 'named', name: text };
}

/** Normalizes a list of license strings, dropping empties and duplicates, keeping order. */
export function normalizeLicenses(raw: readonly string[]): License[] {
  const out: License[] = [];
  const seen = new Set<string>();
  for (const r of raw) {
    const l = normalizeLicense(r);
    if (!l) continue;
    const key = JSON.stringify(l);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(l);
  }
  return out;
}

/**
 * One SPDX expression for a package's licenses (SPDX `licenseDeclared`), or undefined when any of them
 * is not SPDX (then the writer says NOASSERTION and keeps the text in a comment). Several licenses
 * found for one package (DEP-5 files with several paragraphs) are all in effect: joined with AND.
 */
export function spdxExpressionOf(licenses: readonly License[]): string | undefined {
  if (licenses.length === 0 || licenses.some((l) => l.kind !== 'spdx')) return undefined;
  const parts = licenses.map((l) => (l as { expression: string }).expression);
  if (parts.length === 1) return parts[0];
  return parts.map((p) => (/\s(AND|OR)\s/.test(p) ? `(${p})` : p)).join(' AND ');
}

/** `expr` without one pair of parentheses around all of it. */
function unwrap(expr: string): string {
  const t = expr.trim();
  if (!t.startsWith('(') || !t.endsWith(')')) return t;
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '(') depth++;
    else if (t[i] === ')' && --depth === 0 && i < t.length - 1) return t; // "(a) AND (b)"
  }
  return t.slice(1, -1).trim();
}

/** The operands of the expression's AND, nested ANDs flattened, without enclosing parentheses (`(A AND B) AND (C OR D)` → A, B, C OR D). */
export function andOperands(expr: string): string[] {
  const t = unwrap(expr);
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '(') depth++;
    else if (t[i] === ')') depth--;
    else if (depth === 0 && /^\sAND\s/.test(t.slice(i, i + 5))) {
      parts.push(t.slice(start, i).trim());
      start = i + 5;
    }
  }
  parts.push(t.slice(start).trim());
  return parts.length > 1 ? parts.flatMap(andOperands) : [t];
}
