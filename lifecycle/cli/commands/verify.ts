import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { LadingError, type Digest } from '../../../registry/oci/index.js';
import { formatReference, parseReference } from '../../../registry/reference.js';
import { openSource } from '../../../registry/open.js';
import { shortDigest } from '../output.js';
import { globalOpenOptions, type CommandContext, type GlobalArgs } from '../context.js';
import { parseTrustedRoot, type TrustRoot } from '../../../sbom/attestation/index.js';
import { loadVerificationKey, verifiedReferrers, type KeyArgs } from './sign-image.js';

export interface VerifyArgs extends GlobalArgs, KeyArgs {
  image: string;
  key?: string;
  'trusted-root'?: string;
  'certificate-identity'?: string;
  'certificate-identity-regexp'?: string;
  'certificate-oidc-issuer'?: string;
}

/** What to trust, from the flags: --key, or (keyless) --trusted-root with the identity that must have signed. */
async function trustFrom(args: VerifyArgs, env: NodeJS.ProcessEnv): Promise<{ root: TrustRoot; keyId?: string; identity?: string }> {
  const keyless = args['trusted-root'] !== undefined;
  if (args.key && keyless) throw new LadingError('USAGE', 'verify takes --key FILE or --trusted-root FILE, not both');
  if (!keyless) {
    if (args['certificate-identity'] || args['certificate-identity-regexp'] || args['certificate-oidc-issuer']) {
      throw new LadingError('USAGE', '--certificate-identity and --certificate-oidc-issuer check keyless signatures: they need --trusted-root FILE');
    }
    if (!args.key) throw new LadingError('USAGE', 'verify needs --key FILE (the signer\'s PEM public key), or --trusted-root FILE with --certificate-identity and --certificate-oidc-issuer for keyless signatures');
    const key = await loadVerificationKey(resolve(args.key), args, env);
    return { root: { publicKey: key.publicKey }, keyId: key.keyId };
  }
  const exact = args['certificate-identity'];
  const pattern = args['certificate-identity-regexp'];
  const issuer = args['certificate-oidc-issuer'];
  if ((exact === undefined) === (pattern === undefined)) {
    throw new LadingError('USAGE', 'keyless verification needs the signer\'s identity: --certificate-identity SAN or --certificate-identity-regexp PATTERN (one of them)');
  }
  if (!issuer) throw new LadingError('USAGE', 'keyless verification needs --certificate-oidc-issuer URL (the OIDC issuer that vouched for the identity)');
  let san: string | RegExp;
  try {
    san = exact ?? new RegExp(pattern as string);
  } catch (err) {
    throw new LadingError('USAGE', `--certificate-identity-regexp: ${(err as Error).message}`, { cause: err });
  }
  const file = resolve(args['trusted-root'] as string);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new LadingError('KEY', `--trusted-root ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const trustedRoot = parseTrustedRoot(bytes, `--trusted-root ${file}`);
  return { root: { trustedRoot, identity: { subjectAlternativeName: san, issuer } }, identity: `${exact ?? `/${pattern}/`} (issuer ${issuer})` };
}

/** `--json` shape of `lading verify`. */
export interface VerifyResult {
  image: string;
  digest: Digest;
  /** Key-based verification: the trusted key's id. */
  keyId?: string;
  verified: { referrer: Digest; predicateType: string; keyId?: string; identity?: { subjectAlternativeName?: string; issuer?: string } }[];
}

export function verifyCommand(ctx: CommandContext) {
  return {
    command: 'verify <image>',
    describe: 'Verify an image\'s signatures offline: with a public key, or keyless with a trusted root and the signer\'s identity (exit 16 when none verifies)',
    builder: (y: Argv<GlobalArgs>) =>
      y.positional('image', { type: 'string', demandOption: true, describe: 'store name, docker://REF or oci:DIR[:TAG]' })
        .option('key', { type: 'string', describe: 'PEM public key (SPKI), or the private key (key-based signatures)' })
        .option('passphrase-env', { type: 'string', describe: 'when --key is an encrypted private key: the variable holding its passphrase' })
        .option('trusted-root', { type: 'string', describe: 'keyless: a Sigstore trusted root JSON file (Fulcio CAs, Rekor keys), read offline' })
        .option('certificate-identity', { type: 'string', describe: 'keyless: the exact identity (SAN: e-mail or URI) that must have signed' })
        .option('certificate-identity-regexp', { type: 'string', describe: 'keyless: a regular expression the identity must match, instead of --certificate-identity' })
        .option('certificate-oidc-issuer', { type: 'string', describe: 'keyless: the exact OIDC issuer of that identity' })
        .example('$0 verify docker://127.0.0.1:5000/app:v1 --key lading.pub', 'check the signature before deploying')
        .example('$0 verify IMAGE --trusted-root trusted_root.json --certificate-identity dev@example.com --certificate-oidc-issuer https://accounts.example.com', 'a keyless signature'),
    handler: async (args: VerifyArgs) => {
      const out = ctx.output(args);
      const trust = await trustFrom(args, ctx.terminal.env);
      const ref = parseReference(args.image);
      const source = await openSource(ref, globalOpenOptions(args, ctx));
      try {
        const subject = await source.resolve();
        const { verified, failures, found } = await verifiedReferrers(source, subject.digest, trust.root);
        const image = formatReference(ref);
        if (found === 0) throw new LadingError('SIGNATURE', `${image}@${subject.digest} has no signatures (no Sigstore bundle referrers)`);
        if (verified.length === 0) {
          const by = trust.keyId ? `key ${trust.keyId.slice(0, 16)}…` : `the trusted root as ${trust.identity}`;
          throw new LadingError('SIGNATURE', `${image}@${subject.digest}: none of its ${found} signature(s) verifies with ${by}: ${failures.join('; ')}`);
        }
        for (const f of failures) out.log(`warning: ${f}`);
        const result: VerifyResult = {
          image,
          digest: subject.digest,
          ...(trust.keyId ? { keyId: trust.keyId } : {}),
          verified: verified.map((v) => ({
            referrer: v.referrer, predicateType: v.predicateType, ...(v.keyId ? { keyId: v.keyId } : {}), ...(v.identity ? { identity: v.identity } : {}),
          })),
        };
        if (out.json) out.result(result);
        else {
          for (const v of result.verified) {
            const who = v.identity ? `, signed by ${v.identity.subjectAlternativeName ?? '?'} (issuer ${v.identity.issuer ?? '?'})` : '';
            out.print(`Verified ${image}@${subject.digest}: ${v.predicateType} (referrer ${shortDigest(v.referrer)}${who})`);
          }
        }
      } finally {
        await source.close();
      }
    },
  };
}
