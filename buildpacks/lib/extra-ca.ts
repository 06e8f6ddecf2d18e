/**
 * NODE_EXTRA_CA_CERTS, deferred. Node 20 reads that file and builds its certificate store while it starts
 * (~40 ms here with Debian's bundle, a third of `node -e 0`), whether or not the process ever opens a TLS
 * connection, and a rebuild's buildpack process usually opens none. So our bin/build (a shell script) moves
 * the variable aside, to DEFERRED_EXTRA_CA_ENV, before it starts node; the buildpack puts it back at once
 * (restoreExtraCaCerts) for the programs it runs (npm, build scripts), and its own connections add the file to
 * Node's roots when they are made (trustingDispatcher), which is what Node would have trusted.
 */
export const DEFERRED_EXTRA_CA_ENV = 'LADING_DEFERRED_NODE_EXTRA_CA_CERTS';

let deferred: string | undefined;

/** Puts a deferred NODE_EXTRA_CA_CERTS back into `env` (the process environment); call before anything runs. */
export function restoreExtraCaCerts(env: Record<string, string | undefined> = process.env): void {
  const file = env[DEFERRED_EXTRA_CA_ENV];
  if (file === undefined) return;
  delete env[DEFERRED_EXTRA_CA_ENV];
  if (!file) return;
  env['NODE_EXTRA_CA_CERTS'] = file;
  deferred = file;
}

/** The NODE_EXTRA_CA_CERTS file this process did not load as it started; undefined when Node loaded it or there is none. */
export function deferredExtraCaCerts(): string | undefined {
  return deferred;
}
