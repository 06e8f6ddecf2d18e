/**
 * Signing and attestations (design §10): in-toto statements, SLSA provenance v1, DSSE Sigstore bundles
 * signed with @sigstore/sign and verified offline with @sigstore/verify, and the referrer manifests that
 * carry them. No I/O beyond reading an app dir for its digest: the CLI hands bytes in and writes referrers.
 */
export * from './keys.js';
export * from './statement.js';
export * from './sign.js';
export * from './verify.js';
export * from './trusted-root.js';
export * from './referrer.js';
export * from './provenance.js';
export * from './source-digest.js';
