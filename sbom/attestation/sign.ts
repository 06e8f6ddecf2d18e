import { sign as cryptoSign } from 'node:crypto';
import { DSSEBundleBuilder, type Signer, type Witness } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { LadingError } from '../../registry/oci/index.js';
import type { SigningKey } from './keys.js';
import { IN_TOTO_PAYLOAD_TYPE } from './statement.js';

export type { Signer, Witness } from '@sigstore/sign';

/**
 * A @sigstore/sign Signer over a local key: ECDSA P-256 with SHA-256, DER-encoded signatures (what Sigstore
 * verifiers expect); the key is named by its fingerprint, the bundle's key hint and the DSSE keyid.
 */
export function keySigner(key: SigningKey): Signer {
  return {
    sign: async (data: Buffer) => ({
      signature: cryptoSign('sha256', data, key.privateKey),
      key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint: key.keyId },
    }),
  };
}

export interface SignStatementOptions {
  signer: Signer;
  /** Transparency log / timestamp witnesses (keyless, online). None for the offline key flow. */
  witnesses?: Witness[];
}

/**
 * Signs in-toto statement bytes as a DSSE envelope and returns the Sigstore bundle (v0.3) as JSON bytes.
 * The ECDSA signature is randomized, so the bundle differs between runs; the payload (statement) does not.
 */
export async function signStatement(statement: Buffer, options: SignStatementOptions): Promise<Buffer> {
  const builder = new DSSEBundleBuilder({ signer: options.signer, witnesses: options.witnesses ?? [] });
  let bundle;
  try {
    bundle = await builder.create({ data: statement, type: IN_TOTO_PAYLOAD_TYPE });
  } catch (err) {
    if (err instanceof LadingError) throw err;
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause instanceof Error && cause.message && !(err as Error).message.includes(cause.message) ? `: ${cause.message}` : '';
    throw new LadingError('SIGNATURE', `signing failed: ${(err as Error).message}${detail}`, { cause: err });
  }
  return Buffer.from(JSON.stringify(bundleToJSON(bundle)), 'utf8');
}
