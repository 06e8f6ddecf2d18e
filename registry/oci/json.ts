import { InvalidContentError } from './errors.js';

/**
 * Deterministic JSON: compact, object keys in a fixed order (the spec's field order for the OCI keys we
 * know, then the rest sorted bytewise), so the same value always gives the same bytes and digest.
 */
const KEY_ORDER = [
  'schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'manifests', 'subject',
  'digest', 'size', 'urls', 'data', 'platform', 'architecture', 'os', 'os.version', 'os.features', 'variant',
  'created', 'author', 'rootfs', 'history', 'type', 'diff_ids', 'annotations',
];
const RANK = new Map(KEY_ORDER.map((k, i) => [k, i]));

function compareKeys(a: string, b: string): number {
  const ra = RANK.get(a);
  const rb = RANK.get(b);
  if (ra !== undefined && rb !== undefined) return ra - rb;
  if (ra !== undefined) return -1;
  if (rb !== undefined) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function stableStringify(value: unknown): string {
  return JSON.stringify(normalize(value));
}

export function stableJsonBytes(value: unknown): Buffer {
  return Buffer.from(stableStringify(value), 'utf8');
}

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort(compareKeys)) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = normalize(v);
    }
    return out;
  }
  return value;
}

/** JSON.parse with an error that names the document. */
export function parseJson(bytes: Uint8Array | string, what: string): unknown {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidContentError(`${what}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}
