import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LadingError } from '../../registry/oci/index.js';
import { generateKeyPair, keyIdOf, readPrivateKey, readVerificationKey } from './keys.js';
import { hasTool } from '../../test/support/tools.js';

function keyError(fn: () => unknown): LadingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LadingError);
    expect((err as LadingError).code).toBe('KEY');
    return err as LadingError;
  }
  throw new Error('expected a KEY error');
}

describe('keys', () => {
  it('generateKeyPair writes PKCS#8 and SPKI PEM that read back to the same key id', () => {
    const pair = generateKeyPair();
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const priv = readPrivateKey(pair.privateKeyPem);
    expect(priv.keyId).toBe(pair.keyId);
    expect(priv.keyId).toMatch(/^[0-9a-f]{64}$/);
    expect(readVerificationKey(pair.publicKeyPem).keyId).toBe(pair.keyId);
    // A private key also serves for verification (its public half).
    expect(readVerificationKey(pair.privateKeyPem).keyId).toBe(pair.keyId);
  });

  it('encrypted keys: PKCS#8 EncryptedPrivateKeyInfo; right passphrase reads, missing or wrong passphrase fails clearly', () => {
    const pair = generateKeyPair({ passphrase: 'correct horse' });
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(readPrivateKey(pair.privateKeyPem, { passphrase: 'correct horse' }).keyId).toBe(pair.keyId);
    expect(keyError(() => readPrivateKey(pair.privateKeyPem, { what: 'key k.pem' })).message).toBe(
      'key k.pem: is encrypted: give its passphrase in LADING_KEY_PASSPHRASE or in the variable --passphrase-env names',
    );
    expect(keyError(() => readPrivateKey(pair.privateKeyPem, { passphrase: 'wrong', what: 'key k.pem' })).message).toBe(
      'key k.pem: wrong passphrase (the key could not be decrypted)',
    );
  });

  it.skipIf(!hasTool('openssl'))('reads keys written by openssl: genpkey P-256, pkcs8 -topk8 -v2 aes-256-cbc, and SEC1 EC keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lading-keys-'));
    try {
      const plain = join(dir, 'key.pem');
      const enc = join(dir, 'enc.pem');
      const sec1 = join(dir, 'sec1.pem');
      const pub = join(dir, 'pub.pem');
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', plain]);
      execFileSync('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', plain, '-out', enc, '-passout', 'pass:s3cret']);
      execFileSync('openssl', ['ec', '-in', plain, '-out', sec1], { stdio: 'ignore' });
      execFileSync('openssl', ['pkey', '-in', plain, '-pubout', '-out', pub]);
      const id = readPrivateKey(readFileSync(plain)).keyId;
      expect(readPrivateKey(readFileSync(enc), { passphrase: 's3cret' }).keyId).toBe(id);
      expect(readPrivateKey(readFileSync(sec1)).keyId).toBe(id);
      expect(readVerificationKey(readFileSync(pub)).keyId).toBe(id);
      keyError(() => readPrivateKey(readFileSync(enc), { passphrase: 'nope' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it cannot sign with: not PEM, a public key for signing, another curve, RSA, cosign keys', () => {
    expect(keyError(() => readPrivateKey('hello', { what: 'key x' })).message).toMatch(/key x: is not a PEM file/);
    const pair = generateKeyPair();
    expect(keyError(() => readPrivateKey(pair.publicKeyPem)).message).toMatch(/is a public key; signing needs the private key/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(keyError(() => readPrivateKey(p384)).message).toMatch(/is a EC secp384r1 key; lading signs with ECDSA P-256/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(keyError(() => readVerificationKey(rsa)).message).toMatch(/is a rsa key/);
    expect(keyError(() => readPrivateKey('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n')).message)
      .toMatch(/is a cosign key/);
    expect(keyError(() => readPrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).message).toMatch(/is not a readable private key/);
  });

  it('key ids are the sha256 of the DER SPKI', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    expect(keyIdOf(publicKey)).toBe(createHash('sha256').update(der).digest('hex'));
  });
});
