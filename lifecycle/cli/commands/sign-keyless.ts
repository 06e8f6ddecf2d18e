import { DEFAULT_FULCIO_URL, DEFAULT_REKOR_URL, FulcioSigner, RekorWitness, type Signer, type Witness } from '@sigstore/sign';
import { LadingError } from '../../../registry/oci/index.js';

/** Keyless signing (online): an ephemeral key certified by Fulcio for an OIDC identity, the signature logged in Rekor. */
export interface KeylessArgs {
  'fulcio-url'?: string;
  'rekor-url'?: string;
  'identity-token'?: string;
}

export interface KeylessOptions {
  fulcioURL: string;
  /** Rekor's base URL; `none` signs without a transparency log entry (verifiers then need to allow that). */
  rekorURL: string;
  identityToken: string;
  /** Per-request timeout in ms (default 30 s); retries are the library's (none by default here). */
  timeout?: number;
}

/** The OIDC token: `--identity-token`, else SIGSTORE_ID_TOKEN (CI systems export one). */
export function keylessOptions(args: KeylessArgs, env: NodeJS.ProcessEnv): KeylessOptions {
  const identityToken = args['identity-token'] ?? env.SIGSTORE_ID_TOKEN;
  if (!identityToken) throw new LadingError('USAGE', '--keyless needs an OIDC identity token: --identity-token TOKEN or SIGSTORE_ID_TOKEN');
  return {
    fulcioURL: trimSlash(args['fulcio-url'] ?? DEFAULT_FULCIO_URL),
    rekorURL: args['rekor-url'] === 'none' ? 'none' : trimSlash(args['rekor-url'] ?? DEFAULT_REKOR_URL),
    identityToken,
  };
}

function trimSlash(url: string): string {
  if (!/^https?:\/\//.test(url)) throw new LadingError('USAGE', `"${url}" is not an http(s) URL`);
  return url.replace(/\/+$/, '');
}

/** The signer and witnesses @sigstore/sign uses: FulcioSigner (ephemeral P-256 key) and RekorWitness (DSSE entry, API v1). */
export function keylessSigning(options: KeylessOptions): { signer: Signer; witnesses: Witness[] } {
  const timeout = options.timeout ?? 30_000;
  const signer = new FulcioSigner({
    identityProvider: { getToken: async () => options.identityToken },
    fulcioBaseURL: options.fulcioURL,
    retry: 0,
    timeout,
  });
  const witnesses: Witness[] = options.rekorURL === 'none'
    ? []
    : [new RekorWitness({ rekorBaseURL: options.rekorURL, entryType: 'dsse', majorApiVersion: 1, fetchOnConflict: true, retry: 0, timeout })];
  return { signer, witnesses };
}

/**
 * A keyless failure as the user's problem: the CA's or log's HTTP status and message (401/403 → AUTH,
 * unreachable → NETWORK, the rest → SIGNATURE). Tokens never appear in messages.
 */
export function keylessError(err: unknown, options: KeylessOptions): LadingError {
  const chain: unknown[] = [];
  for (let e: unknown = err; e && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  const http = chain.find((e) => typeof (e as { statusCode?: unknown }).statusCode === 'number') as { statusCode: number; message: string } | undefined;
  const internal = chain.find((e) => typeof (e as { code?: unknown }).code === 'string' && /_ERROR$/.test((e as { code: string }).code)) as { code: string } | undefined;
  const service = internal?.code.startsWith('TLOG') ? `Rekor ${options.rekorURL}` : internal?.code.startsWith('IDENTITY') ? 'the identity token' : `Fulcio ${options.fulcioURL}`;
  const redact = (s: string) => s.split(options.identityToken).join('<token>').replace(/^\(\d+\)\s*/, '');
  if (http) {
    const code = http.statusCode === 401 || http.statusCode === 403 ? 'AUTH' : 'SIGNATURE';
    return new LadingError(code, `keyless signing: ${service} answered ${http.statusCode}: ${redact(http.message)}`, { cause: err });
  }
  const netCode = chain.map((e) => (e as { code?: unknown }).code).find((c) => typeof c === 'string' && /^E[A-Z]+$/.test(c));
  const last = chain[chain.length - 1] as Error;
  if (netCode) return new LadingError('NETWORK', `keyless signing: cannot reach ${service} (${netCode})`, { cause: err, temporary: true });
  return new LadingError('SIGNATURE', `keyless signing: ${service}: ${redact(last?.message ?? String(err))}`, { cause: err });
}
