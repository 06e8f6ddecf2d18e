import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';

/**
 * NODE_EXTRA_CA_CERTS, deferred by bin/lading: Node 20 reads that file as it starts (40-60 ms here), in every
 * run, while most runs open no TLS connection (a rebuild against a local or plain-HTTP registry). The launcher
 * moves the variable to DEFERRED_EXTRA_CA_ENV; `resumeExtraCaCerts` puts it back for the programs lading runs
 * and gives lading's own TLS connections what Node would have trusted.
 */
export const DEFERRED_EXTRA_CA_ENV = 'LADING_DEFERRED_NODE_EXTRA_CA_CERTS';

/**
 * What tls.createSecureContext reads from its options (Node 20). A TLS client without any of them gets Node's
 * default context, which NODE_EXTRA_CA_CERTS extends; with `ca`, Node trusts those CAs alone.
 */
const CONTEXT_OPTIONS = [
  'ca', 'cert', 'key', 'pfx', 'passphrase', 'ciphers', 'ecdhCurve', 'dhparam', 'minVersion', 'maxVersion', 'secureProtocol', 'secureOptions',
  'honorCipherOrder', 'sessionIdContext', 'crl', 'clientCertEngine', 'privateKeyEngine', 'privateKeyIdentifier', 'sigalgs', 'ticketKeys', 'sessionTimeout',
] as const;

let undo: (() => void) | undefined;

/**
 * Puts a deferred NODE_EXTRA_CA_CERTS back into `env` (the process environment, which child processes get) and
 * makes every TLS client of this process that names no CA of its own (undici, https, the Sigstore clients all
 * go through tls.connect → tls.createSecureContext) trust Node's roots plus that file, as Node does when it
 * loads the file at start-up. One context serves all of them: building one from ~150 PEM certificates costs
 * as much as the start-up load did. An unreadable file is ignored, as Node ignores it.
 */
export function resumeExtraCaCerts(env: Record<string, string | undefined> = process.env): void {
  const file = env[DEFERRED_EXTRA_CA_ENV];
  if (file === undefined) return;
  delete env[DEFERRED_EXTRA_CA_ENV];
  if (!file) return;
  env['NODE_EXTRA_CA_CERTS'] = file;
  if (undo) return;
  // the module object tls.connect calls through (an ESM import would give a copy of its exports)
  const tls = createRequire(import.meta.url)('node:tls') as typeof Tls;
  const create = tls.createSecureContext;
  let roots: string[] | undefined;
  let shared: Tls.SecureContext | undefined;
  const trusted = () => (roots ??= [...tls.rootCertificates, ...readable(file)]);
  tls.createSecureContext = function createSecureContext(options?: Tls.SecureContextOptions): Tls.SecureContext {
    if (options?.ca !== undefined) return create.call(tls, options);
    if (CONTEXT_OPTIONS.some((k) => (options as Record<string, unknown> | undefined)?.[k] !== undefined)) return create.call(tls, { ...options, ca: trusted() });
    return (shared ??= create.call(tls, { ca: trusted() }));
  };
  undo = () => {
    tls.createSecureContext = create;
    undo = undefined;
  };
}

/** Tests: the TLS hook removed. */
export function forgetExtraCaCerts(): void {
  undo?.();
}

function readable(file: string): string[] {
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    return [];
  }
}
