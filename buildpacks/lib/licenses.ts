import { createHash } from 'node:crypto';
// JSON imports (not createRequire) so the bundler inlines the lists into self-contained buildpacks.
import licenseIds from 'spdx-license-ids/index.json' with { type: 'json' };
import deprecatedIds from 'spdx-license-ids/deprecated.json' with { type: 'json' };
import exceptionIds from 'spdx-exceptions/index.json' with { type: 'json' };

const IDS: readonly string[] = [...(licenseIds as string[]), ...(deprecatedIds as string[])];
const EXCEPTIONS: readonly string[] = exceptionIds as string[];
const ID_BY_LOWER = new Map(IDS.map((id) => [id.toLowerCase(), id]));
const EXCEPTION_BY_LOWER = new Map(EXCEPTIONS.map((id) => [id.toLowerCase(), id]));

/** A licence as declared by a package, classified without guessing (design.md §10: unknowns marked as such). */
export type License =
  | { kind: 'id'; id: string }
  | { kind: 'expression'; expression: string }
  | { kind: 'unknown'; text: string };

/** The SPDX id for `text` in its canonical spelling, if it is one (deprecated ids included). */
export function spdxLicenseId(text: string): string | undefined {
  return ID_BY_LOWER.get(text.trim().toLowerCase());
}

/**
 * Classifies a declared licence: an SPDX id, a valid SPDX expression (ids, `+`, LicenseRef-*, AND/OR/WITH,
 * parentheses), or unknown text kept verbatim.
 */
export function classifyLicense(text: string): License {
  const raw = text.trim();
  const id = spdxLicenseId(raw);
  if (id) return { kind: 'id', id };
  const expression = normalizeExpression(raw);
  if (expression !== undefined) return { kind: 'expression', expression };
  return { kind: 'unknown', text: raw };
}

function normalizeExpression(raw: string): string | undefined {
  const tokens = raw.replace(/([()])/g, ' $1 ').split(/\s+/).filter(Boolean);
  if (tokens.length < 2) return undefined;
  const out: string[] = [];
  let depth = 0;
  let expectTerm = true; // a licence or "(" comes next
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    const upper = t.toUpperCase();
    if (t === '(') {
      if (!expectTerm) return undefined;
      depth++;
      out.push(t);
    } else if (t === ')') {
      if (expectTerm || depth === 0) return undefined;
      depth--;
      out.push(t);
    } else if (upper === 'AND' || upper === 'OR') {
      if (expectTerm) return undefined;
      out.push(upper);
      expectTerm = true;
    } else if (upper === 'WITH') {
      const exception = EXCEPTION_BY_LOWER.get((tokens[i + 1] ?? '').toLowerCase());
      if (expectTerm || !exception) return undefined;
      out.push('WITH', exception);
      i++;
    } else {
      if (!expectTerm) return undefined;
      const term = licenseTerm(t);
      if (!term) return undefined;
      out.push(term);
      expectTerm = false;
    }
  }
  if (expectTerm || depth !== 0) return undefined;
  return out.join(' ').replace(/\( /g, '(').replace(/ \)/g, ')');
}

function licenseTerm(t: string): string | undefined {
  if (/^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/.test(t)) return t;
  const plus = t.endsWith('+');
  const id = spdxLicenseId(plus ? t.slice(0, -1) : t);
  return id ? `${id}${plus ? '+' : ''}` : undefined;
}

/** A LicenseRef id for unknown licence text: stable, derived from the text (distinct texts may share one: see licenseRefsFor). */
export function licenseRefFor(text: string): string {
  const slug = text.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return `LicenseRef-${slug || 'unknown'}`;
}

/**
 * LicenseRef ids for the unknown licence texts of one document, one per distinct text: licenseRefFor's id,
 * plus a short hash of the text where two texts would share it (`Apache 2` / `Apache-2`), so each
 * hasExtractedLicensingInfos entry carries exactly the text it was found as.
 */
export function licenseRefsFor(texts: Iterable<string>): Map<string, string> {
  const bySlug = new Map<string, Set<string>>();
  for (const t of texts) {
    const ref = licenseRefFor(t);
    bySlug.set(ref, (bySlug.get(ref) ?? new Set()).add(t));
  }
  const out = new Map<string, string>();
  for (const [ref, set] of bySlug) {
    for (const t of set) out.set(t, set.size === 1 ? ref : `${ref}-${createHash('sha256').update(t).digest('hex').slice(0, 8)}`);
  }
  return out;
}
