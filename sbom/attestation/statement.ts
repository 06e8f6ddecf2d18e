import { hexOf, InvalidContentError, isRecord, type Digest } from '../../registry/oci/index.js';

/** in-toto Statement v1 (in-toto/attestation spec/v1/statement.md). */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** The DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** What `cosign sign` (v3, bundle format) states about an image: "this digest is signed", empty predicate. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
export const SLSA_PROVENANCE_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';

/** A ResourceDescriptor (spec/v1/resource_descriptor.md); lading fills name, uri, digest, annotations. */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: Record<string, string>;
  downloadLocation?: string;
  mediaType?: string;
  annotations?: Record<string, unknown>;
}

export interface Statement {
  _type: typeof STATEMENT_TYPE;
  subject: ResourceDescriptor[];
  predicateType: string;
  predicate: Record<string, unknown>;
}

/** A statement about one image manifest: subject name = the repository, digest.sha256 = the manifest's hex. */
export function imageStatement(repository: string, manifestDigest: Digest, predicateType: string, predicate: Record<string, unknown> = {}): Statement {
  const subject: ResourceDescriptor = { name: repository, digest: { sha256: hexOf(manifestDigest) } };
  return { _type: STATEMENT_TYPE, subject: [subject], predicateType, predicate };
}

/**
 * The statement's bytes: compact JSON, the statement's own fields in spec order, every nested object's keys
 * sorted, so the same statement always gives the same bytes (and the same DSSE payload).
 */
export function statementBytes(statement: Statement): Buffer {
  const { _type, subject, predicateType, predicate } = statement;
  return Buffer.from(JSON.stringify({ _type, subject: sortedKeys(subject), predicateType, predicate: sortedKeys(predicate) }), 'utf8');
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortedKeys(v);
    }
    return out;
  }
  return value;
}

/** Parses statement bytes (a verified DSSE payload); `what` names it in errors. */
export function parseStatement(bytes: Uint8Array, what: string): Statement {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new InvalidContentError(`${what}: the signed payload is not JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isRecord(doc) || doc._type !== STATEMENT_TYPE) {
    throw new InvalidContentError(`${what}: the signed payload is not an in-toto Statement v1 (_type ${JSON.stringify(isRecord(doc) ? doc._type : undefined)})`);
  }
  if (!Array.isArray(doc.subject) || doc.subject.some((s) => !isRecord(s))) throw new InvalidContentError(`${what}: statement has no subject list`);
  if (typeof doc.predicateType !== 'string') throw new InvalidContentError(`${what}: statement has no predicateType`);
  const predicate = doc.predicate === undefined ? {} : doc.predicate;
  if (!isRecord(predicate)) throw new InvalidContentError(`${what}: statement predicate is not an object`);
  return { _type: STATEMENT_TYPE, subject: doc.subject as ResourceDescriptor[], predicateType: doc.predicateType, predicate };
}

/** Whether any of the statement's subjects names this manifest digest. */
export function statementCovers(statement: Statement, manifestDigest: Digest): boolean {
  return statement.subject.some((s) => s.digest?.sha256 === hexOf(manifestDigest));
}
