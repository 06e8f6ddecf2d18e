import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from '@sigstore/core';
import { digestOf, LadingError } from '../../../registry/oci/index.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE, imageStatement, signStatement, statementBytes, verifyImageAttestation,
} from '../../../sbom/attestation/index.js';
import { startFakeSigstore, type FakeSigstore } from '../../../test/support/sbom-fake-sigstore.js';
import { hasTool } from '../../../test/support/tools.js';
import { lading } from '../../../test/support/cli.js';
import { randomImage } from '../../../test/support/random-image.js';
import { readAll, writeImage } from '../../../registry/image/index.js';
import { openSink, openSource } from '../../../registry/open.js';
import { parseReference } from '../../../registry/reference.js';
import { keylessError, keylessOptions, keylessSigning, type KeylessOptions } from './sign-keyless.js';

/**
 * Keyless signing against a fake Fulcio and Rekor on loopback (no public Sigstore service is ever called):
 * the request shapes @sigstore/sign sends, a certificate issued by a throwaway test CA (openssl), the bundle
 * verified against that CA, and how CA/log failures reach the user.
 */
const base64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const TOKEN = `${base64url({ alg: 'none' })}.${base64url({ iss: 'https://issuer.example', sub: 'dev@example.com', aud: 'sigstore' })}.c2ln`;
const image = digestOf('keyless image');
const statement = statementBytes(imageStatement('reg/app', image, COSIGN_SIGN_PREDICATE_TYPE));

describe.skipIf(!hasTool('openssl'))('keyless signing (mocked Fulcio + Rekor)', () => {
  let dir: string;
  let fake: FakeSigstore;
  let url: string;
  let caPem: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-keyless-'));
    fake = await startFakeSigstore('dev@example.com', 'https://issuer.example');
    url = fake.url;
    caPem = fake.caPem;
  });

  afterAll(async () => {
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const options = (extra: Partial<KeylessOptions> = {}): KeylessOptions => ({ fulcioURL: url, rekorURL: 'none', identityToken: TOKEN, timeout: 5000, ...extra });

  it('flags: token from --identity-token or SIGSTORE_ID_TOKEN, URLs checked, Rekor optional', () => {
    expect(keylessOptions({ 'fulcio-url': `${url}/`, 'rekor-url': 'none' }, { SIGSTORE_ID_TOKEN: TOKEN })).toEqual({ fulcioURL: url, rekorURL: 'none', identityToken: TOKEN });
    expect(() => keylessOptions({}, {})).toThrow(/--keyless needs an OIDC identity token/);
    expect(() => keylessOptions({ 'fulcio-url': 'ftp://x' }, { SIGSTORE_ID_TOKEN: 't' })).toThrow(/not an http\(s\) URL/);
  });

  it('Fulcio: sends the token, the ephemeral public key and a proof of possession; the bundle verifies against the test CA', async () => {
    fake.requests.length = 0;
    const bundle = await signStatement(statement, keylessSigning(options()));
    const request = fake.requests.find((s) => s.url === 'POST /api/v2/signingCert')!;
    expect(request.body).toEqual({
      credentials: { oidcIdentityToken: TOKEN },
      publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: expect.stringMatching(/^-----BEGIN PUBLIC KEY-----/) }, proofOfPossession: expect.any(String) },
    });
    const json = JSON.parse(bundle.toString());
    expect(json.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(json.verificationMaterial.certificate.rawBytes).toEqual(expect.any(String));
    // The certificate names the token's identity, chains to the test CA, and its key made the DSSE signature.
    const leaf = X509Certificate.parse(Buffer.from(json.verificationMaterial.certificate.rawBytes, 'base64'));
    expect(leaf.subjectAltName).toBe('dev@example.com');
    expect(leaf.verify(X509Certificate.parse(caPem))).toBe(true);
    const pae = Buffer.concat([Buffer.from(`DSSEv1 28 application/vnd.in-toto+json ${statement.length} `), statement]);
    const leafKey = createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' });
    expect(cryptoVerify('sha256', pae, leafKey, Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64'))).toBe(true);
    // @sigstore/verify checks a certificate at a logged time: without Rekor (--rekor-url none) the bundle is refused clearly.
    expect(() => verifyImageAttestation(bundle, { certificateAuthorities: [{ certChainPem: [caPem] }] }, image))
      .toThrow('bundle: is a keyless signature without a transparency-log entry or timestamp, so its certificate cannot be checked');
  });

  it('Rekor: proposes a dsse entry (envelope + the Fulcio certificate); a log failure is reported with its status and message', async () => {
    fake.requests.length = 0;
    fake.rekorAnswer = { status: 400, body: { code: 400, message: 'entry rejected by test log' } };
    const o = options({ rekorURL: url });
    const err = await signStatement(statement, keylessSigning(o)).then(() => undefined, (e: unknown) => keylessError(e, o));
    delete fake.rekorAnswer;
    const entry = fake.requests.find((s) => s.url === 'POST /api/v1/log/entries')!;
    expect(entry.body).toMatchObject({ apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: expect.any(String), verifiers: [expect.any(String)] } } });
    const envelope = JSON.parse(entry.body.spec.proposedContent.envelope);
    expect(Buffer.from(envelope.payload, 'base64').equals(statement)).toBe(true);
    expect(Buffer.from(entry.body.spec.proposedContent.verifiers[0], 'base64').toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(err).toBeInstanceOf(LadingError);
    expect(err!.code).toBe('SIGNATURE');
    expect(err!.message).toBe(`keyless signing: Rekor ${url} answered 400: entry rejected by test log`);
  });

  it('Fulcio refusing the token → AUTH, token redacted; an unreachable CA → NETWORK', async () => {
    fake.fulcioStatus = 401;
    const o = options();
    const err = await signStatement(statement, keylessSigning(o)).then(() => undefined, (e: unknown) => keylessError(e, o));
    fake.fulcioStatus = 200;
    expect(err!.code).toBe('AUTH');
    expect(err!.message).toBe(`keyless signing: Fulcio ${url} answered 401: token <token> rejected`);
    const closed = options({ fulcioURL: 'http://127.0.0.1:1' });
    const down = await signStatement(statement, keylessSigning(closed)).then(() => undefined, (e: unknown) => keylessError(e, closed));
    expect(down!.code).toBe('NETWORK');
    expect(down!.message).toBe('keyless signing: cannot reach Fulcio http://127.0.0.1:1 (ECONNREFUSED)');
  });

  it('lading sign --keyless: flags reach Fulcio, the bundle (certificate, no key hint) is attached as a referrer; errors exit with their code', async () => {
    const layout = `oci:${join(dir, 'layout')}:v1`;
    const sink = await openSink(parseReference(layout));
    await writeImage(sink, await randomImage({ layers: 1 }));
    await sink.commit();
    fake.requests.length = 0;
    const r = await lading(['sign', layout, '--keyless', '--fulcio-url', url, '--rekor-url', 'none', '--json'], { SIGSTORE_ID_TOKEN: TOKEN });
    expect(r.code, r.stderr).toBe(0);
    expect(fake.requests.map((s) => s.url)).toEqual(['POST /api/v2/signingCert']);
    const source = await openSource(parseReference(layout));
    const [referrer] = await source.referrers((await source.resolve()).digest);
    const m = JSON.parse((await source.manifest(referrer!.digest)).bytes.toString());
    const bundle = JSON.parse((await readAll(await source.blob(m.layers[0]))).toString());
    await source.close();
    expect(bundle.verificationMaterial.certificate).toBeDefined();
    expect(bundle.verificationMaterial.publicKey).toBeUndefined();
    const noToken = await lading(['sign', layout, '--keyless', '--fulcio-url', url], { SIGSTORE_ID_TOKEN: undefined });
    expect(noToken.code).toBe(2);
    const both = await lading(['sign', layout, '--keyless', '--key', 'k.pem'], { SIGSTORE_ID_TOKEN: TOKEN });
    expect(both.stderr).toContain('use --key FILE or --keyless, not both');
    fake.fulcioStatus = 403;
    const refused = await lading(['sign', layout, '--keyless', '--fulcio-url', url, '--rekor-url', 'none', '--json'], { SIGSTORE_ID_TOKEN: TOKEN });
    fake.fulcioStatus = 200;
    expect(refused.code).toBe(7);
    expect(refused.stdout).not.toContain(TOKEN);
  });
});
