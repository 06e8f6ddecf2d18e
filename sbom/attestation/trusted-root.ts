import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { LadingError } from '../../registry/oci/index.js';

/**
 * A Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`, the file cosign's
 * `--trusted-root` and sigstore-js read): the CAs that issue keyless certificates (Fulcio), the transparency
 * logs (Rekor) whose keys sign checkpoints and inclusion promises, CT logs and timestamp authorities. Read
 * from its protobuf JSON by hand (bytes base64, times RFC 3339) so a bad file gets a message naming the field.
 */
export type TrustedRoot = Parameters<typeof toTrustMaterial>[0];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** SPKI keys of the kinds Sigstore logs use (RSA log keys are not supported here). */
const KEY_DETAILS = new Set(['PKIX_ECDSA_P256_SHA_256', 'PKIX_ECDSA_P384_SHA_384', 'PKIX_ECDSA_P521_SHA_512', 'PKIX_ED25519']);

class Reader {
  constructor(private readonly what: string) {}

  fail(path: string, message: string): never {
    throw new LadingError('KEY', `${this.what}: ${path}: ${message}`);
  }

  bytes(v: unknown, path: string): Buffer {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v) || v.length === 0) this.fail(path, 'expected base64 bytes');
    return Buffer.from(v, v.includes('-') || v.includes('_') ? 'base64url' : 'base64');
  }

  time(v: unknown, path: string): Date {
    const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
    if (Number.isNaN(d.getTime())) this.fail(path, 'expected an RFC 3339 time');
    return d;
  }

  validFor(v: unknown, path: string): { start: Date; end?: Date } | undefined {
    if (v === undefined) return undefined;
    if (!isObject(v)) this.fail(path, 'expected {start, end?}');
    return { start: this.time(v['start'], `${path}.start`), ...(v['end'] !== undefined ? { end: this.time(v['end'], `${path}.end`) } : {}) };
  }

  list(v: unknown, path: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(path, 'expected an array');
    return v;
  }

  log(v: unknown, path: string) {
    if (!isObject(v)) this.fail(path, 'expected an object');
    const key = v['publicKey'];
    if (!isObject(key)) this.fail(`${path}.publicKey`, 'missing');
    const keyDetails = String(key['keyDetails'] ?? '');
    if (!KEY_DETAILS.has(keyDetails)) this.fail(`${path}.publicKey.keyDetails`, `unsupported "${keyDetails}"`);
    const logId = v['logId'];
    if (!isObject(logId)) this.fail(`${path}.logId`, 'missing');
    const validFor = this.validFor(key['validFor'], `${path}.publicKey.validFor`);
    return {
      baseUrl: typeof v['baseUrl'] === 'string' ? v['baseUrl'] : this.fail(`${path}.baseUrl`, 'missing'),
      hashAlgorithm: 1 /* SHA2_256 */,
      publicKey: { rawBytes: this.bytes(key['rawBytes'], `${path}.publicKey.rawBytes`), keyDetails, ...(validFor ? { validFor } : {}) },
      logId: { keyId: this.bytes(logId['keyId'], `${path}.logId.keyId`) },
    };
  }

  authority(v: unknown, path: string) {
    if (!isObject(v)) this.fail(path, 'expected an object');
    const chain = v['certChain'];
    if (!isObject(chain)) this.fail(`${path}.certChain`, 'missing');
    const certificates = this.list(chain['certificates'], `${path}.certChain.certificates`).map((c, i) => {
      if (!isObject(c)) this.fail(`${path}.certChain.certificates[${i}]`, 'expected {rawBytes}');
      return { rawBytes: this.bytes(c['rawBytes'], `${path}.certChain.certificates[${i}].rawBytes`) };
    });
    if (certificates.length === 0) this.fail(`${path}.certChain.certificates`, 'empty');
    const subject = isObject(v['subject']) ? v['subject'] : {};
    return {
      subject: { organization: String(subject['organization'] ?? ''), commonName: String(subject['commonName'] ?? '') },
      uri: String(v['uri'] ?? ''),
      certChain: { certificates },
      validFor: this.validFor(v['validFor'], `${path}.validFor`) ?? { start: new Date(0) },
    };
  }
}

/** Parses a trusted root file's bytes; `what` names the file in errors (code KEY, like any unusable trust material). */
export function parseTrustedRoot(bytes: Uint8Array, what: string): TrustedRoot {
  const r = new Reader(what);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new LadingError('KEY', `${what}: not JSON (${(err as Error).message})`, { cause: err });
  }
  const doc: Json = isObject(json) ? json : r.fail('$', 'expected a JSON object');
  const mediaType = String(doc['mediaType'] ?? '');
  if (!/^application\/vnd\.dev\.sigstore\.trustedroot(\.v0\.\d+)?\+json/.test(mediaType)) {
    r.fail('$.mediaType', `"${mediaType}" is not a Sigstore trusted root (application/vnd.dev.sigstore.trustedroot+json;version=0.1)`);
  }
  const tlogs = r.list(doc['tlogs'], '$.tlogs').map((t, i) => r.log(t, `$.tlogs[${i}]`));
  const certificateAuthorities = r.list(doc['certificateAuthorities'], '$.certificateAuthorities').map((c, i) => r.authority(c, `$.certificateAuthorities[${i}]`));
  const ctlogs = r.list(doc['ctlogs'], '$.ctlogs').map((t, i) => r.log(t, `$.ctlogs[${i}]`));
  const timestampAuthorities = r.list(doc['timestampAuthorities'], '$.timestampAuthorities').map((c, i) => r.authority(c, `$.timestampAuthorities[${i}]`));
  if (tlogs.length === 0) r.fail('$.tlogs', 'no transparency log: keyless signatures are verified through their log entry');
  if (certificateAuthorities.length === 0) r.fail('$.certificateAuthorities', 'no certificate authority');
  return { mediaType, tlogs, certificateAuthorities, ctlogs, timestampAuthorities } as unknown as TrustedRoot;
}

/** The trust material @sigstore/verify checks keyless bundles with. */
export function trustedRootMaterial(root: TrustedRoot): TrustMaterial {
  return toTrustMaterial(root);
}
