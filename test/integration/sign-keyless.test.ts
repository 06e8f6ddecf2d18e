import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAll, writeImage } from '../../registry/image/index.js';
import { openSink, openSource } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import { parseTrustedRoot, verifyImageAttestation, type TrustRoot } from '../../sbom/attestation/index.js';
import { lading } from '../support/cli.js';
import { randomImage } from '../support/random-image.js';
import { startFakeSigstore, type FakeSigstore } from '../support/sbom-fake-sigstore.js';
import { requireTools } from '../support/tools.js';

const base64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const TOKEN = `${base64url({ alg: 'none' })}.${base64url({ iss: 'https://issuer.example', sub: 'dev@example.com', aud: 'sigstore' })}.c2ln`;

/**
 * Keyless verification offline (issue 7): `lading sign --keyless` against a fake Fulcio (test CA) and a fake
 * Rekor that answers with a real RFC 6962 inclusion proof, a signed checkpoint and a signed entry timestamp;
 * then `lading verify --trusted-root` with the identity that must have signed — no network beyond loopback
 * for signing, none at all for verifying. Verification must fail when the proof, the log's key, the
 * certificate identity or the issuer does not match.
 */
describe.skipIf(!requireTools('openssl'))('keyless verification with a Rekor inclusion proof', () => {
  let dir: string;
  let fake: FakeSigstore;
  let root: string;
  let images = 0;

  /** A fresh image in its own layout, signed keyless with the fake in its current mode. */
  async function signedImage(): Promise<{ ref: string; digest: string }> {
    const ref = `oci:${join(dir, `layout-${++images}`)}:v1`;
    const sink = await openSink(parseReference(ref));
    await writeImage(sink, await randomImage({ layers: 1 }));
    await sink.commit();
    const r = await lading(['sign', ref, '--keyless', '--fulcio-url', fake.url, '--rekor-url', fake.url, '--json'], { SIGSTORE_ID_TOKEN: TOKEN });
    expect(r.code, r.stderr).toBe(0);
    const source = await openSource(parseReference(ref));
    const digest = (await source.resolve()).digest;
    await source.close();
    return { ref, digest };
  }

  async function bundleOf(ref: string): Promise<Buffer> {
    const source = await openSource(parseReference(ref));
    try {
      const [referrer] = await source.referrers((await source.resolve()).digest);
      const m = JSON.parse((await source.manifest(referrer!.digest)).bytes.toString());
      return await readAll(await source.blob(m.layers[0]));
    } finally {
      await source.close();
    }
  }

  const verify = (ref: string, extra: string[] = [], trustedRoot = root) =>
    lading(['verify', ref, '--trusted-root', trustedRoot, '--certificate-identity', fake.identity, '--certificate-oidc-issuer', fake.issuer, ...extra]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-keyless-verify-'));
    fake = await startFakeSigstore();
    root = join(dir, 'trusted_root.json');
    writeFileSync(root, JSON.stringify(fake.trustedRoot()));
  });
  afterAll(async () => {
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a keyless bundle with a log entry verifies offline against the trusted root, for the identity and issuer that signed', async () => {
    const before = fake.size();
    const { ref, digest } = await signedImage();
    expect(fake.size()).toBe(before + 1);
    const bundle = JSON.parse((await bundleOf(ref)).toString());
    const entry = bundle.verificationMaterial.tlogEntries[0];
    expect(entry.kindVersion).toEqual({ kind: 'dsse', version: '0.0.1' });
    expect(entry.inclusionProof.hashes.length).toBeGreaterThan(1);
    expect(entry.inclusionProof.checkpoint.envelope).toMatch(/^lading-test-log - 1\n7\n/);
    expect(entry.inclusionPromise.signedEntryTimestamp).toEqual(expect.any(String));

    const r = await verify(ref, ['--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toEqual({
      image: ref, digest,
      verified: [{ referrer: expect.stringMatching(/^sha256:/), predicateType: 'https://sigstore.dev/cosign/sign/v1', identity: { subjectAlternativeName: fake.identity, issuer: fake.issuer } }],
    });
    const text = await verify(ref);
    expect(text.stdout).toContain(`signed by ${fake.identity} (issuer ${fake.issuer})`);
    const pattern = await lading(['verify', ref, '--trusted-root', root, '--certificate-identity-regexp', '^dev@example\\.com$', '--certificate-oidc-issuer', fake.issuer]);
    expect(pattern.code, pattern.stderr).toBe(0);
  });

  it('fails (exit 16) for another identity, another issuer, or a log key the trusted root does not name', async () => {
    const { ref } = await signedImage();
    const who = await lading(['verify', ref, '--trusted-root', root, '--certificate-identity', 'mallory@example.com', '--certificate-oidc-issuer', fake.issuer]);
    expect(who.code).toBe(16);
    expect(who.stderr).toContain('the certificate identity does not match');
    expect(who.stderr).toContain('mallory@example');
    const prefix = await lading(['verify', ref, '--trusted-root', root, '--certificate-identity', 'dev@example.co', '--certificate-oidc-issuer', fake.issuer]);
    expect(prefix.code).toBe(16); // an exact identity is not a prefix match
    const issuer = await lading(['verify', ref, '--trusted-root', root, '--certificate-identity', fake.identity, '--certificate-oidc-issuer', 'https://other.example']);
    expect(issuer.code).toBe(16);
    expect(issuer.stderr).toContain('the certificate identity does not match');
    const otherLog = join(dir, 'other-log.json');
    writeFileSync(otherLog, JSON.stringify(fake.trustedRoot({ logKey: 'other' })));
    const log = await verify(ref, [], otherLog);
    expect(log.code).toBe(16);
    expect(log.stderr).toMatch(/transparency-log|TLOG/);
  });

  it('fails (exit 16) when the inclusion proof does not lead to the checkpoint\'s root, or the checkpoint is not signed by the log', async () => {
    fake.mode = 'bad-proof';
    const bad = await signedImage().finally(() => (fake.mode = 'ok'));
    const r1 = await verify(bad.ref);
    expect(r1.code).toBe(16);
    expect(r1.stderr).toContain('the transparency-log inclusion proof does not verify');
    expect(r1.stderr).toContain('calculated root hash does not match');
    fake.mode = 'foreign-checkpoint';
    const foreign = await signedImage().finally(() => (fake.mode = 'ok'));
    const r2 = await verify(foreign.ref);
    expect(r2.code).toBe(16);
    expect(r2.stderr).toContain('invalid checkpoint signature');
  });

  it('library: a proof altered after signing, or an entry for another signature, fails; the untouched bundle verifies', async () => {
    const { ref, digest } = await signedImage();
    const bytes = await bundleOf(ref);
    const trust: TrustRoot = { trustedRoot: parseTrustedRoot(readFileSync(root), 'root'), identity: { subjectAlternativeName: fake.identity, issuer: fake.issuer } };
    expect(verifyImageAttestation(bytes, trust, digest as never).identity).toEqual({ subjectAlternativeName: fake.identity, issuer: fake.issuer });
    const altered = JSON.parse(bytes.toString());
    const hashes = altered.verificationMaterial.tlogEntries[0].inclusionProof.hashes as string[];
    [hashes[0], hashes[1]] = [hashes[1]!, hashes[0]!];
    expect(() => verifyImageAttestation(Buffer.from(JSON.stringify(altered)), trust, digest as never)).toThrow(/inclusion proof does not verify/);
    // Another signature's log entry: body, SET and proof are all genuine, but not for this signature.
    const other = JSON.parse((await bundleOf((await signedImage()).ref)).toString());
    const swapped = JSON.parse(bytes.toString());
    swapped.verificationMaterial.tlogEntries = other.verificationMaterial.tlogEntries;
    expect(() => verifyImageAttestation(Buffer.from(JSON.stringify(swapped)), trust, digest as never)).toThrow(/not for this signature|TLOG_BODY_ERROR/);
  });

  it('bad flags and trust files: usage errors exit 2, an unreadable or malformed trusted root exits 15 naming the field', async () => {
    const { ref } = await signedImage();
    const noIdentity = await lading(['verify', ref, '--trusted-root', root, '--certificate-oidc-issuer', fake.issuer]);
    expect(noIdentity.code).toBe(2);
    expect(noIdentity.stderr).toContain('--certificate-identity SAN or --certificate-identity-regexp');
    const noIssuer = await lading(['verify', ref, '--trusted-root', root, '--certificate-identity', fake.identity]);
    expect(noIssuer.code).toBe(2);
    expect((await lading(['verify', ref, '--key', 'k.pub', '--trusted-root', root])).stderr).toContain('--key FILE or --trusted-root FILE, not both');
    expect((await lading(['verify', ref, '--certificate-identity', fake.identity])).code).toBe(2);
    const missing = await verify(ref, [], join(dir, 'nope.json'));
    expect(missing.code).toBe(15);
    expect(missing.stderr).toContain('nope.json: cannot read the file (ENOENT)');
    const broken = join(dir, 'broken.json');
    const t = fake.trustedRoot() as { tlogs: { publicKey: { keyDetails: string } }[] };
    t.tlogs[0]!.publicKey.keyDetails = 'PKIX_FANCY';
    writeFileSync(broken, JSON.stringify(t));
    const r = await verify(ref, [], broken);
    expect(r.code).toBe(15);
    expect(r.stderr).toContain('$.tlogs[0].publicKey.keyDetails: unsupported "PKIX_FANCY"');
    // A key-based verify of a keyless signature fails clearly rather than trusting the certificate.
    const keyless = await lading(['verify', ref, '--key', join(dir, 'absent.pub')]);
    expect(keyless.code).toBe(15);
  });
});
