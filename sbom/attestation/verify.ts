import type { KeyObject } from 'node:crypto';
import { bundleFromJSON, isBundleWithDsseEnvelope, type Bundle, type BundleWithDsseEnvelope } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { toSignedEntity, Verifier, type TrustMaterial, type VerificationPolicy, type VerifierOptions } from '@sigstore/verify';
import { LadingError, type Digest } from '../../registry/oci/index.js';
import { IN_TOTO_PAYLOAD_TYPE, parseStatement, statementCovers, type Statement } from './statement.js';
import { trustedRootMaterial, type TrustedRoot } from './trusted-root.js';

/** What a verified bundle says. */
export interface VerifiedAttestation {
  statement: Statement;
  predicateType: string;
  /** The DSSE signature's keyid (the key hint), when the bundle names one. */
  keyId?: string;
  /** Keyless bundles: the certificate's subject alternative name and OIDC issuer. */
  identity?: { subjectAlternativeName?: string; issuer?: string };
}

/** Who must have signed a keyless bundle: the certificate's subject alternative name and its OIDC issuer. */
export interface CertificateIdentity {
  /** The exact SAN (an e-mail or URI), or a regular expression tested against it. */
  subjectAlternativeName: string | RegExp;
  /** The exact OIDC issuer (Fulcio's 1.3.6.1.4.1.57264.1.8 extension). */
  issuer: string;
}

/**
 * Where trust comes from: a public key (offline flow); certificate authorities alone (keyless, a test CA);
 * or a Sigstore trusted root with the identity that must have signed (keyless: the certificate chains to a
 * trusted CA at the time a trusted log's signed entry timestamp says, the entry's inclusion proof verifies
 * against a checkpoint that log signed, and the certificate names this identity).
 */
export type TrustRoot =
  | { publicKey: KeyObject }
  | { certificateAuthorities: { certChainPem: string[] }[]; tlogThreshold?: number }
  | { trustedRoot: TrustedRoot; identity: CertificateIdentity };

function policyOf(root: TrustRoot): VerificationPolicy | undefined {
  if (!('identity' in root)) return undefined;
  const san = root.identity.subjectAlternativeName;
  // The library tests the SAN as a pattern: an exact identity is anchored and escaped.
  const pattern = typeof san === 'string' ? `^${san.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` : san.source;
  return { subjectAlternativeName: pattern, extensions: { issuer: root.identity.issuer } };
}

/** What @sigstore/verify's error codes mean to the user. */
const REASONS: Record<string, string> = {
  SIGNATURE_ERROR: 'the signature does not verify with the trusted key (another key, or the bundle was altered)',
  TLOG_INCLUSION_PROOF_ERROR: 'the transparency-log inclusion proof does not verify against a checkpoint signed by a trusted log',
  TLOG_INCLUSION_PROMISE_ERROR: 'the transparency-log entry timestamp (SET) is not signed by a trusted log',
  TLOG_BODY_ERROR: 'the transparency-log entry is not for this signature',
  CERTIFICATE_ERROR: 'the certificate does not chain to a trusted certificate authority at the logged time',
  UNTRUSTED_SIGNER_ERROR: 'the certificate identity does not match',
};

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
  if ('trustedRoot' in root) {
    // A keyless certificate is checked at a time a trusted log vouches for (its SET): one log entry and one
    // timestamp required; SCTs only when the trusted root lists CT logs.
    return {
      material: trustedRootMaterial(root.trustedRoot),
      options: { tlogThreshold: 1, ctlogThreshold: root.trustedRoot.ctlogs.length ? 1 : 0, timestampThreshold: 1 },
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
    signer = new Verifier(material, options).verify(toSignedEntity(bundle), policyOf(root));
  } catch (err) {
    if (err instanceof LadingError) throw err;
    const code = (err as { code?: string }).code;
    const reason = code && REASONS[code] ? `${REASONS[code]} (${(err as Error).message})` : (err as Error).message;
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
