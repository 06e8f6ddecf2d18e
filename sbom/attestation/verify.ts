import type { KeyObject } from 'node:crypto';
import { bundleFromJSON, isBundleWithDsseEnvelope, type Bundle, type BundleWithDsseEnvelope } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { toSignedEntity, Verifier, type TrustMaterial, type VerifierOptions } from '@sigstore/verify';
import { LadingError, type Digest } from '../../registry/oci/index.js';
import { IN_TOTO_PAYLOAD_TYPE, parseStatement, statementCovers, type Statement } from './statement.js';

/** What a verified bundle says. */
export interface VerifiedAttestation {
  statement: Statement;
  predicateType: string;
  /** The DSSE signature's keyid (the key hint), when the bundle names one. */
  keyId?: string;
  /** Keyless bundles: the certificate's subject alternative name and OIDC issuer. */
  identity?: { subjectAlternativeName?: string; issuer?: string };
}

/** Where trust comes from: a public key (offline flow), or certificate authorities (keyless, e.g. a test CA). */
export type TrustRoot =
  | { publicKey: KeyObject }
  | { certificateAuthorities: { certChainPem: string[] }[]; tlogThreshold?: number };

function fail(what: string, message: string, cause?: unknown): never {
  throw new LadingError('SIGNATURE', `${what}: ${message}`, cause === undefined ? {} : { cause });
}

function trustMaterial(root: TrustRoot): { material: TrustMaterial; options: VerifierOptions } {
  const none = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
  if ('publicKey' in root) {
    // Any hint: the key the user named is the only key trusted, whatever the bundle calls it.
    return {
      material: { ...none, publicKey: () => ({ publicKey: root.publicKey, validFor: () => true }) },
      options: { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 },
    };
  }
  const always = { start: new Date(0), end: new Date(8.64e15) };
  const certificateAuthorities = root.certificateAuthorities.map((ca) => ({
    certChain: ca.certChainPem.map((pem) => X509Certificate.parse(pem)),
    validFor: always,
  }));
  return {
    material: {
      ...none,
      certificateAuthorities,
      publicKey: () => fail('bundle', 'names a public key, but only certificates are trusted here'),
    },
    options: { tlogThreshold: root.tlogThreshold ?? 0, ctlogThreshold: 0, timestampThreshold: 0 },
  };
}

/** Parses a Sigstore bundle (JSON bytes); must be DSSE over an in-toto statement. */
export function parseBundle(bytes: Uint8Array, what: string): BundleWithDsseEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    fail(what, `is not JSON (${(err as Error).message})`, err);
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (err) {
    fail(what, `is not a valid Sigstore bundle (${(err as Error).message})`, err);
  }
  if (!isBundleWithDsseEnvelope(bundle)) fail(what, 'is a message-signature bundle; lading expects DSSE over an in-toto statement');
  if (bundle.content.dsseEnvelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    fail(what, `DSSE payloadType is "${bundle.content.dsseEnvelope.payloadType}", not ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  return bundle;
}

/**
 * Verifies a bundle offline with @sigstore/verify: the DSSE signature against the trusted key (or the
 * certificate against the trusted CAs), no transparency log, CT log or timestamp required. Throws code
 * SIGNATURE on any failure, naming `what`.
 */
export function verifyBundle(bytes: Uint8Array, root: TrustRoot, what = 'bundle'): VerifiedAttestation {
  const bundle = parseBundle(bytes, what);
  const material0 = bundle.verificationMaterial;
  if (!('publicKey' in root) && (material0.tlogEntries ?? []).length === 0 && (material0.timestampVerificationData?.rfc3161Timestamps ?? []).length === 0) {
    // A certificate is only valid at some time: without a log entry or timestamp nothing says when it signed.
    fail(what, 'is a keyless signature without a transparency-log entry or timestamp, so its certificate cannot be checked');
  }
  const { material, options } = trustMaterial(root);
  let signer;
  try {
    signer = new Verifier(material, options).verify(toSignedEntity(bundle));
  } catch (err) {
    if (err instanceof LadingError) throw err;
    const code = (err as { code?: string }).code;
    const reason = code === 'SIGNATURE_ERROR' ? 'the signature does not verify with the trusted key (another key, or the bundle was altered)' : (err as Error).message;
    fail(what, `${reason}${code && code !== 'SIGNATURE_ERROR' ? ` [${code}]` : ''}`, err);
  }
  const statement = parseStatement(bundle.content.dsseEnvelope.payload, `${what} payload`);
  const result: VerifiedAttestation = { statement, predicateType: statement.predicateType };
  const keyId = bundle.content.dsseEnvelope.signatures[0]?.keyid;
  if (keyId) result.keyId = keyId;
  if (signer.identity) {
    const identity: NonNullable<VerifiedAttestation['identity']> = {};
    if (signer.identity.subjectAlternativeName) identity.subjectAlternativeName = signer.identity.subjectAlternativeName;
    if (signer.identity.extensions?.issuer) identity.issuer = signer.identity.extensions.issuer;
    result.identity = identity;
  }
  return result;
}

/** Verifies a bundle and that its statement is about `manifestDigest` (a signature of another image fails). */
export function verifyImageAttestation(bytes: Uint8Array, root: TrustRoot, manifestDigest: Digest, what = 'bundle'): VerifiedAttestation {
  const verified = verifyBundle(bytes, root, what);
  if (!statementCovers(verified.statement, manifestDigest)) {
    const named = verified.statement.subject.map((s) => (s.digest?.sha256 ? `sha256:${s.digest.sha256}` : '?')).join(', ');
    fail(what, `is a valid signature of ${named}, not of this image (${manifestDigest})`);
  }
  return verified;
}
