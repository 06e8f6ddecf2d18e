import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { lading } from '../support/cli.js';
import { requireTools } from '../support/tools.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { randomImage } from '../support/random-image.js';
import { readAll, writeImage } from '../../registry/image/index.js';
import { openSink, openSource } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import { MediaType, parseManifest, type Descriptor, type Digest, type Image } from '../../registry/oci/index.js';
import { bundleReferrer, COSIGN_SIGN_PREDICATE_TYPE } from '../../sbom/attestation/index.js';

interface SignJson { image: string; digest: Digest; signatures: { digest: Digest; predicateType: string }[] }
interface VerifyJson { digest: Digest; keyId: string; verified: { referrer: Digest; predicateType: string }[] }

describe.skipIf(!requireTools('docker-registry', 'skopeo', 'openssl'))('lading sign / verify (issue 7 acceptance)', () => {
  let tmp: string;
  let registry: TestRegistry;
  let env: NodeJS.ProcessEnv;
  let keys: string;
  const pass = { LADING_KEY_PASSPHRASE: 'sesame' };

  const put = async (ref: string, image: Image) => {
    const sink = await openSink(parseReference(ref), { env });
    await writeImage(sink, image);
    await sink.commit();
  };
  /** Bundles (bytes) attached to `ref`'s manifest. */
  const bundles = async (ref: string): Promise<{ referrer: Descriptor; bytes: Buffer }[]> => {
    const source = await openSource(parseReference(ref), { env });
    try {
      const subject = await source.resolve();
      const out = [];
      for (const r of await source.referrers(subject.digest)) {
        const m = parseManifest((await source.manifest(r.digest)).bytes, 'referrer');
        if (m.kind !== 'manifest') continue;
        out.push({ referrer: r, bytes: await readAll(await source.blob(m.manifest.layers[0]!)) });
      }
      return out;
    } finally {
      await source.close();
    }
  };
  /** Writes `bundle` as a referrer of `ref`'s manifest, as an attacker with push access could. */
  const attach = async (ref: string, bundle: Buffer) => {
    const source = await openSource(parseReference(ref), { env });
    const subject = await source.resolve();
    await source.close();
    const r = bundleReferrer(bundle, subject, COSIGN_SIGN_PREDICATE_TYPE, '1980-01-01T00:00:01Z');
    const sink = await openSink(parseReference(ref.replace(/:[\w.-]+$/, '')), { env });
    await sink.putBlob(r.config.descriptor, async () => Readable.from([r.config.bytes]));
    await sink.putBlob(r.bundle.descriptor, async () => Readable.from([r.bundle.bytes]));
    await sink.putManifest(r.manifestBytes, MediaType.OciManifest, { tag: false });
    await sink.commit();
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-sign-'));
    env = { LADING_HOME: join(tmp, 'home') };
    registry = await startRegistry({ auth: 'none' });
    keys = join(tmp, 'keys');
    const gen = await lading(['keygen', '--out-dir', keys, '--json'], { ...env, ...pass });
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.json()).toMatchObject({ encrypted: true, keyId: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const other = await lading(['keygen', '--out-dir', keys, '--name', 'other'], { ...env, LADING_KEY_PASSPHRASE: undefined });
    expect(other.code, other.stderr).toBe(0);
  });

  afterAll(async () => {
    await registry?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('keygen writes an encrypted PKCS#8 private key (0600) and an SPKI public key, and refuses to overwrite', async () => {
    expect(readFileSync(join(keys, 'lading.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(statSync(join(keys, 'lading.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(keys, 'lading.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(readFileSync(join(keys, 'other.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    // openssl reads what keygen wrote.
    execFileSync('openssl', ['pkey', '-in', join(keys, 'lading.key'), '-passin', 'pass:sesame', '-noout']);
    const again = await lading(['keygen', '--out-dir', keys], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/lading\.key exists; pass --force/);
  });

  it('registry (2.8, fallback tag): sign → verify offline; skopeo reads the signature manifest; other key, unsigned and re-tagged images fail', async () => {
    const ref = `docker://${registry.host}/sign/app:v1`;
    const image = await randomImage({ layers: 1 });
    await put(ref, image);
    const signed = await lading(['sign', ref, '--key', join(keys, 'lading.key'), '--json'], { ...env, ...pass });
    expect(signed.code, signed.stderr).toBe(0);
    const s = signed.json<SignJson>();
    expect(s.digest).toBe(image.descriptor.digest);
    expect(s.signatures).toEqual([{ digest: expect.stringMatching(/^sha256:/), predicateType: COSIGN_SIGN_PREDICATE_TYPE }]);

    const verified = await lading(['verify', ref, '--key', join(keys, 'lading.pub'), '--json'], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json<VerifyJson>().verified).toEqual([{ referrer: s.signatures[0]!.digest, predicateType: COSIGN_SIGN_PREDICATE_TYPE, keyId: expect.any(String) }]);

    // The fallback tag index lists the signature; skopeo reads both it and the signature manifest.
    const repo = `docker://${registry.host}/sign/app`;
    const fallback = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `${repo}:sha256-${image.descriptor.digest.slice(7)}`], { encoding: 'utf8' }));
    expect(fallback.manifests).toContainEqual(expect.objectContaining({ digest: s.signatures[0]!.digest, artifactType: MediaType.SigstoreBundle }));
    const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `${repo}@${s.signatures[0]!.digest}`], { encoding: 'utf8' }));
    expect(raw).toMatchObject({
      artifactType: MediaType.SigstoreBundle,
      config: { mediaType: MediaType.OciEmpty, size: 2 },
      layers: [{ mediaType: MediaType.SigstoreBundle }],
      subject: { digest: image.descriptor.digest },
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE, 'org.opencontainers.image.created': '1980-01-01T00:00:01Z' },
    });

    const wrongKey = await lading(['verify', ref, '--key', join(keys, 'other.pub')], env);
    expect(wrongKey.code).toBe(16);
    expect(wrongKey.stderr).toMatch(/none of its 1 signature\(s\) verifies with key .*does not verify with the trusted key/);

    // Re-tagged: v1 now names a different (unsigned) image; the old signature does not carry over.
    const other = await randomImage({ layers: 1 });
    await put(ref, other);
    const retagged = await lading(['verify', ref, '--key', join(keys, 'lading.pub')], env);
    expect(retagged.code).toBe(16);
    expect(retagged.stderr).toContain(`@${other.descriptor.digest} has no signatures`);
    // …and a signature copied over from the signed image is a valid signature, but of the other digest.
    await attach(ref, (await bundles(`${repo}@${image.descriptor.digest}`))[0]!.bytes);
    const copied = await lading(['verify', ref, '--key', join(keys, 'lading.pub')], env);
    expect(copied.code).toBe(16);
    expect(copied.stderr).toContain(`is a valid signature of ${image.descriptor.digest}, not of this image (${other.descriptor.digest})`);
  });

  it('a tampered bundle fails; an unsigned image fails with "no signatures"', async () => {
    const ref = `docker://${registry.host}/sign/tamper:v1`;
    await put(ref, await randomImage({ layers: 1 }));
    const unsigned = await lading(['verify', ref, '--key', join(keys, 'lading.pub'), '--json'], env);
    expect(unsigned.code).toBe(16);
    expect(unsigned.json<{ error: { code: string } }>().error.code).toBe('SIGNATURE');
    expect((await lading(['sign', ref, '--key', join(keys, 'lading.key')], { ...env, ...pass })).code).toBe(0);
    const [original] = await bundles(ref);
    const json = JSON.parse(original!.bytes.toString());
    const statement = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString());
    statement.subject[0].name = 'evil/app';
    json.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    const victim = `docker://${registry.host}/sign/victim:v1`;
    await put(victim, await randomImage({ layers: 1 }));
    await attach(victim, Buffer.from(JSON.stringify(json)));
    const tampered = await lading(['verify', victim, '--key', join(keys, 'lading.pub')], env);
    expect(tampered.code).toBe(16);
    expect(tampered.stderr).toContain('the signature does not verify with the trusted key');
  });

  it('OCI layout and local store: sign → verify; copy --referrers carries the signature and verify passes at the destination', async () => {
    const image = await randomImage({ layers: 1 });
    const layout = `oci:${join(tmp, 'layout')}:v1`;
    await put(layout, image);
    expect((await lading(['sign', layout, '--key', join(keys, 'other.key')], env)).code).toBe(0);
    const v = await lading(['verify', layout, '--key', join(keys, 'other.pub')], env);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain(`Verified ${layout}@${image.descriptor.digest}: ${COSIGN_SIGN_PREDICATE_TYPE}`);

    const dest = `docker://${registry.host}/sign/copied:v1`;
    const copied = await lading(['copy', '--referrers', layout, dest], env);
    expect(copied.code, copied.stderr).toBe(0);
    expect((await lading(['verify', dest, '--key', join(keys, 'other.pub')], env)).code).toBe(0);
    const layout2 = `oci:${join(tmp, 'layout2')}:v1`;
    expect((await lading(['copy', '--referrers', dest, layout2], env)).code).toBe(0);
    expect((await lading(['verify', layout2, '--key', join(keys, 'other.pub')], env)).code).toBe(0);
    // Without --referrers the copy has no signature.
    const bare = `oci:${join(tmp, 'bare')}:v1`;
    expect((await lading(['copy', layout, bare], env)).code).toBe(0);
    expect((await lading(['verify', bare, '--key', join(keys, 'other.pub')], env)).code).toBe(16);

    expect((await lading(['copy', layout, 'sign/stored:v1'], env)).code).toBe(0);
    expect((await lading(['sign', 'sign/stored:v1', '--key', join(keys, 'other.key')], env)).code).toBe(0);
    expect((await lading(['verify', 'sign/stored:v1', '--key', join(keys, 'other.pub')], env)).code).toBe(0);
  });

  it('signing the same image twice with the same key gives the same statement bytes (the ECDSA signatures differ)', async () => {
    const layout = `oci:${join(tmp, 'twice')}:v1`;
    await put(layout, await randomImage({ layers: 1 }));
    for (let i = 0; i < 2; i++) expect((await lading(['sign', layout, '--key', join(keys, 'other.key')], env)).code).toBe(0);
    const found = (await bundles(layout)).map((b) => JSON.parse(b.bytes.toString()).dsseEnvelope);
    expect(found).toHaveLength(2);
    expect(found[0].payload).toBe(found[1].payload);
    expect(found[0].signatures[0].sig).not.toBe(found[1].signatures[0].sig);
  });

  it('keys: openssl-written keys (plain, PKCS#8 encrypted with --passphrase-env); wrong passphrase and unreadable keys fail with exit 15', async () => {
    const plain = join(tmp, 'openssl.pem');
    const enc = join(tmp, 'openssl-enc.pem');
    const pub = join(tmp, 'openssl.pub');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', plain]);
    execFileSync('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', plain, '-out', enc, '-passout', 'pass:open sesame']);
    execFileSync('openssl', ['pkey', '-in', plain, '-pubout', '-out', pub]);
    const layout = `oci:${join(tmp, 'openssl-layout')}:v1`;
    await put(layout, await randomImage({ layers: 1 }));
    const signed = await lading(['sign', layout, '--key', enc, '--passphrase-env', 'MY_PASS'], { ...env, MY_PASS: 'open sesame' });
    expect(signed.code, signed.stderr).toBe(0);
    expect((await lading(['verify', layout, '--key', pub], env)).code).toBe(0);
    expect((await lading(['verify', layout, '--key', plain], env)).code).toBe(0);

    const wrong = await lading(['sign', layout, '--key', enc, '--passphrase-env', 'MY_PASS'], { ...env, MY_PASS: 'nope' });
    expect(wrong.code).toBe(15);
    expect(wrong.stderr).toBe(`lading: --key ${enc}: wrong passphrase (the key could not be decrypted)\n`);
    const none = await lading(['sign', layout, '--key', enc], { ...env, LADING_KEY_PASSPHRASE: undefined });
    expect(none.code).toBe(15);
    expect(none.stderr).toContain('is encrypted: give its passphrase in LADING_KEY_PASSPHRASE');
    const missing = await lading(['verify', layout, '--key', join(tmp, 'no-such.pub')], env);
    expect(missing.code).toBe(15);
    expect(missing.stderr).toContain(`--key ${join(tmp, 'no-such.pub')}: cannot read the key file (ENOENT)`);
    const notPem = await lading(['verify', layout, '--key', join(tmp, 'layout', 'oci-layout')], env);
    expect(notPem.code).toBe(15);
    expect(notPem.stderr).toContain('is not a PEM file');
    const unset = await lading(['sign', layout, '--key', enc, '--passphrase-env', 'UNSET_VAR'], env);
    expect(unset.code).toBe(2);
    expect((await lading(['verify', layout], env)).stderr).toBe('lading: verify needs --key FILE (the signer\'s PEM public key), or --trusted-root FILE with --certificate-identity and --certificate-oidc-issuer for keyless signatures\n');
    expect((await lading(['sign', layout], env)).code).toBe(2);
  });
});
