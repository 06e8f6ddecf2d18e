import { describe, expect, it } from 'vitest';
import { verify as cryptoVerify } from 'node:crypto';
import { digestOf, EMPTY_JSON_DIGEST, LadingError, MediaType, type Descriptor, type Digest } from '../../registry/oci/index.js';
import { generateKeyPair, readPrivateKey, readVerificationKey } from './keys.js';
import { keySigner, signStatement } from './sign.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE, IN_TOTO_PAYLOAD_TYPE, imageStatement, parseStatement, statementBytes, STATEMENT_TYPE,
} from './statement.js';
import { parseBundle, verifyBundle, verifyImageAttestation } from './verify.js';
import { attestationCreated, bundleReferrer, bundleLayerOf, isBundleReferrer } from './referrer.js';

const pair = generateKeyPair();
const key = readPrivateKey(pair.privateKeyPem);
const trusted = { publicKey: readVerificationKey(pair.publicKeyPem).publicKey };
const image = digestOf('image manifest');
const other = digestOf('another image manifest');

function signatureError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LadingError);
    expect((err as LadingError).code).toBe('SIGNATURE');
    return (err as Error).message;
  }
  throw new Error('expected a SIGNATURE error');
}

describe('in-toto statement', () => {
  it('is cosign v3 shaped and byte-identical for the same image', () => {
    const s = imageStatement('127.0.0.1:5000/app', image, COSIGN_SIGN_PREDICATE_TYPE);
    const bytes = statementBytes(s).toString();
    expect(bytes).toBe(
      `{"_type":"${STATEMENT_TYPE}","subject":[{"digest":{"sha256":"${image.slice(7)}"},"name":"127.0.0.1:5000/app"}],` +
      `"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`,
    );
    expect(statementBytes(imageStatement('127.0.0.1:5000/app', image, COSIGN_SIGN_PREDICATE_TYPE)).toString()).toBe(bytes);
    // Nested keys are sorted whatever order the predicate was built in.
    const a = statementBytes(imageStatement('r', image, 'p', { b: 1, a: { d: 1, c: 2 } })).toString();
    const b = statementBytes(imageStatement('r', image, 'p', { a: { c: 2, d: 1 }, b: 1 })).toString();
    expect(a).toBe(b);
    expect(parseStatement(Buffer.from(a), 'x').predicate).toEqual({ a: { c: 2, d: 1 }, b: 1 });
  });
});

describe('sign → verify (offline, key-based)', () => {
  const statement = statementBytes(imageStatement('reg/app', image, COSIGN_SIGN_PREDICATE_TYPE));

  it('signs a DSSE v0.3 bundle that verifies with the public key and names the image', async () => {
    const bytes = await signStatement(statement, { signer: keySigner(key) });
    const json = JSON.parse(bytes.toString());
    expect(json.mediaType).toBe(MediaType.SigstoreBundle);
    expect(json.verificationMaterial.publicKey.hint).toBe(key.keyId);
    expect(json.verificationMaterial.tlogEntries ?? []).toEqual([]);
    expect(json.dsseEnvelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(json.dsseEnvelope.signatures[0].keyid).toBe(key.keyId);
    expect(Buffer.from(json.dsseEnvelope.payload, 'base64').equals(statement)).toBe(true);
    // The signature is plain ECDSA P-256/SHA-256 in DER over the DSSE PAE.
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${IN_TOTO_PAYLOAD_TYPE.length} ${IN_TOTO_PAYLOAD_TYPE} ${statement.length} `), statement]);
    const sig = Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64');
    expect(sig[0]).toBe(0x30);
    expect(cryptoVerify('sha256', pae, trusted.publicKey, sig)).toBe(true);

    const verified = verifyImageAttestation(bytes, trusted, image);
    expect(verified.predicateType).toBe(COSIGN_SIGN_PREDICATE_TYPE);
    expect(verified.keyId).toBe(key.keyId);
    expect(verified.statement.subject[0]!.name).toBe('reg/app');
  });

  it('same statement twice: same payload, different (randomized) ECDSA signatures, both verify', async () => {
    const a = JSON.parse((await signStatement(statement, { signer: keySigner(key) })).toString());
    const b = JSON.parse((await signStatement(statement, { signer: keySigner(key) })).toString());
    expect(a.dsseEnvelope.payload).toBe(b.dsseEnvelope.payload);
    expect(a.dsseEnvelope.signatures[0].sig).not.toBe(b.dsseEnvelope.signatures[0].sig);
  });

  it('fails for another key, another image, a tampered payload or signature, and non-bundles', async () => {
    const bytes = await signStatement(statement, { signer: keySigner(key) });
    const otherKey = { publicKey: readVerificationKey(generateKeyPair().publicKeyPem).publicKey };
    expect(signatureError(() => verifyBundle(bytes, otherKey, 'sig'))).toMatch(/^sig: the signature does not verify with the trusted key/);
    expect(signatureError(() => verifyImageAttestation(bytes, trusted, other, 'sig'))).toBe(
      `sig: is a valid signature of ${image}, not of this image (${other})`,
    );
    const json = JSON.parse(bytes.toString());
    const forged = statementBytes(imageStatement('reg/app', other, COSIGN_SIGN_PREDICATE_TYPE));
    const tampered = { ...json, dsseEnvelope: { ...json.dsseEnvelope, payload: forged.toString('base64') } };
    expect(signatureError(() => verifyImageAttestation(Buffer.from(JSON.stringify(tampered)), trusted, other)))
      .toMatch(/does not verify with the trusted key/);
    const sig = Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64');
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 1;
    const badSig = { ...json, dsseEnvelope: { ...json.dsseEnvelope, signatures: [{ ...json.dsseEnvelope.signatures[0], sig: sig.toString('base64') }] } };
    signatureError(() => verifyBundle(Buffer.from(JSON.stringify(badSig)), trusted));
    expect(signatureError(() => parseBundle(Buffer.from('not json'), 'b'))).toMatch(/^b: is not JSON/);
    expect(signatureError(() => parseBundle(Buffer.from('{"mediaType":"x"}'), 'b'))).toMatch(/^b: is not a valid Sigstore bundle/);
    const otherType = { ...json, dsseEnvelope: { ...json.dsseEnvelope, payloadType: 'text/plain' } };
    expect(signatureError(() => parseBundle(Buffer.from(JSON.stringify(otherType)), 'b'))).toMatch(/payloadType is "text\/plain"/);
  });
});

describe('bundle referrer manifest', () => {
  const subject: Descriptor = { mediaType: MediaType.OciManifest, digest: image, size: 1234, annotations: { dropped: 'yes' } };

  it('is laid out as cosign v3 writes it, deterministic for the same bundle', () => {
    const bundle = Buffer.from('{"bundle":1}');
    const r = bundleReferrer(bundle, subject, COSIGN_SIGN_PREDICATE_TYPE, '2024-01-01T00:00:00Z');
    expect(JSON.parse(r.manifestBytes.toString())).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_JSON_DIGEST, size: 2 },
      layers: [{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', digest: digestOf(bundle), size: bundle.length }],
      subject: { mediaType: MediaType.OciManifest, digest: image, size: 1234 },
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE,
        'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
      },
    });
    expect(r.manifestDigest).toBe(digestOf(r.manifestBytes));
    expect(bundleReferrer(bundle, subject, COSIGN_SIGN_PREDICATE_TYPE, '2024-01-01T00:00:00Z').manifestBytes.equals(r.manifestBytes)).toBe(true);
    expect(bundleLayerOf(r.manifest)?.digest).toBe(digestOf(bundle));
    expect(isBundleReferrer({ ...subject, artifactType: MediaType.SigstoreBundle })).toBe(true);
    expect(isBundleReferrer({ ...subject, artifactType: 'application/vnd.dev.sigstore.bundle+json;version=0.3' })).toBe(true);
    expect(isBundleReferrer({ ...subject, artifactType: MediaType.CycloneDx })).toBe(false);
  });

  it('created comes from the image, else SOURCE_DATE_EPOCH, else 1980-01-01T00:00:01Z — never the clock', () => {
    expect(attestationCreated('2020-02-02T00:00:00Z', '0')).toBe('2020-02-02T00:00:00Z');
    expect(attestationCreated(undefined, '1700000000')).toBe('2023-11-14T22:13:20Z');
    expect(attestationCreated(undefined, undefined)).toBe('1980-01-01T00:00:01Z');
  });
});

