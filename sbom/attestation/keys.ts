import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { LadingError } from '../../registry/oci/index.js';

/**
 * Signing keys for the offline flow: ECDSA P-256 only, as PEM (PKCS#8 private, optionally encrypted as
 * PKCS#8 EncryptedPrivateKeyInfo the way `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it; SPKI public).
 */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key (what the bundle's verifier and `cosign verify --key` read). */
  publicKeyPem: string;
  /** Fingerprint of the public key: the bundle's key hint and the DSSE keyid. */
  keyId: string;
}

export interface VerificationKey {
  publicKey: KeyObject;
  publicKeyPem: string;
  keyId: string;
}

/** Fingerprint of a public key: lowercase hex sha256 of its DER SubjectPublicKeyInfo (as Rekor's log ids). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

function keyError(what: string, message: string, cause?: unknown): LadingError {
  return new LadingError('KEY', `${what}: ${message}`, cause === undefined ? {} : { cause });
}

function requireP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const kind = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : (key.asymmetricKeyType ?? 'unknown');
    throw keyError(what, `is a ${kind} key; lading signs with ECDSA P-256 keys (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256, or lading keygen)`);
  }
}

function pemText(pem: string | Buffer, what: string): string {
  const text = Buffer.isBuffer(pem) ? pem.toString('utf8') : pem;
  if (!text.includes('-----BEGIN ')) throw keyError(what, 'is not a PEM file (expected -----BEGIN PRIVATE KEY----- or -----BEGIN PUBLIC KEY-----)');
  if (/-----BEGIN (ENCRYPTED )?(SIGSTORE|COSIGN) PRIVATE KEY-----/.test(text)) {
    throw keyError(what, 'is a cosign key (scrypt + secretbox), which lading cannot read: use a PKCS#8 PEM key (lading keygen, or openssl genpkey)');
  }
  return text;
}

/**
 * A private key from PEM. `passphrase` is used only for an encrypted key; an encrypted key without one, or
 * with the wrong one, fails with code KEY and a message that says which.
 */
export function readPrivateKey(pem: string | Buffer, options: { passphrase?: string; what?: string } = {}): SigningKey {
  const what = options.what ?? 'private key';
  const text = pemText(pem, what);
  if (!/-----BEGIN (ENCRYPTED |EC )?PRIVATE KEY-----/.test(text)) {
    throw keyError(what, /-----BEGIN PUBLIC KEY-----/.test(text) ? 'is a public key; signing needs the private key' : 'holds no private key PEM block');
  }
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text);
  if (encrypted && options.passphrase === undefined) {
    throw keyError(what, 'is encrypted: give its passphrase in LADING_KEY_PASSPHRASE or in the variable --passphrase-env names');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(encrypted ? { key: text, format: 'pem', passphrase: options.passphrase! } : { key: text, format: 'pem' });
  } catch (err) {
    if (encrypted) throw keyError(what, 'wrong passphrase (the key could not be decrypted)', err);
    throw keyError(what, `is not a readable private key (${(err as Error).message})`, err);
  }
  requireP256(privateKey, what);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, keyId: keyIdOf(publicKey) };
}

/** A verification key from PEM: an SPKI public key, or a private key (its public half is used). */
export function readVerificationKey(pem: string | Buffer, options: { passphrase?: string; what?: string } = {}): VerificationKey {
  const what = options.what ?? 'public key';
  const text = pemText(pem, what);
  if (/-----BEGIN (ENCRYPTED |EC )?PRIVATE KEY-----/.test(text)) {
    const { publicKey, publicKeyPem, keyId } = readPrivateKey(text, options);
    return { publicKey, publicKeyPem, keyId };
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: text, format: 'pem' });
  } catch (err) {
    throw keyError(what, `is not a readable public key (${(err as Error).message})`, err);
  }
  requireP256(publicKey, what);
  return { publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, keyId: keyIdOf(publicKey) };
}

export interface GeneratedKeyPair {
  /** PKCS#8 PEM; `ENCRYPTED PRIVATE KEY` (PBES2, AES-256-CBC) when a passphrase was given. */
  privateKeyPem: string;
  /** SPKI PEM. */
  publicKeyPem: string;
  keyId: string;
}

/** A fresh ECDSA P-256 key pair in the PEM forms `openssl` writes. */
export function generateKeyPair(options: { passphrase?: string } = {}): GeneratedKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateKeyPem = (options.passphrase === undefined
    ? privateKey.export({ type: 'pkcs8', format: 'pem' })
    : privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: options.passphrase })) as string;
  return { privateKeyPem, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, keyId: keyIdOf(publicKey) };
}
