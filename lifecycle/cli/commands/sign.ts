import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { LadingError, type Digest } from '../../../registry/oci/index.js';
import { formatReference, parseReference, type ImageReference } from '../../../registry/reference.js';
import type { OpenOptions } from '../../../registry/open.js';
import { SLSA_PROVENANCE_PREDICATE_TYPE } from '../../../sbom/attestation/index.js';
import { shortDigest } from '../output.js';
import { globalOpenOptions, type CommandContext, type GlobalArgs } from '../context.js';
import { keySigning, loadSigningKey, openSignTarget, signTarget, type Attached, type KeyArgs, type Signing } from './sign-image.js';
import { keylessError, keylessOptions, keylessSigning, type KeylessArgs } from './sign-keyless.js';
import { provenanceFor, type ProvenanceContext } from './sign-provenance.js';

export interface SignArgs extends GlobalArgs, KeyArgs, KeylessArgs {
  image: string;
  key?: string;
  keyless?: boolean;
  provenance?: boolean;
  path?: string;
  'builder-id'?: string;
}

/** `--json` shape of `lading sign` (and the `signatures` of `lading build --sign-key`). */
export interface SignResult {
  image: string;
  digest: Digest;
  signatures: Attached[];
}

/** Signs an image where it lives; with a provenance context, also attaches a signed SLSA provenance. */
export async function signImage(
  ref: ImageReference, signing: Signing, options: OpenOptions, provenance?: ProvenanceContext, expected?: Digest,
): Promise<SignResult> {
  const target = await openSignTarget(ref, options, expected);
  try {
    const attestations = provenance ? [{ predicateType: SLSA_PROVENANCE_PREDICATE_TYPE, predicate: await provenanceFor(target, provenance) }] : [];
    const signatures = await signTarget(target, signing, attestations, options);
    return { image: formatReference(ref), digest: target.subject.digest, signatures };
  } finally {
    await target.source.close();
  }
}

async function signingOf(args: SignArgs, env: NodeJS.ProcessEnv): Promise<Signing> {
  if (args.keyless) {
    if (args.key) throw new LadingError('USAGE', 'use --key FILE or --keyless, not both');
    const options = keylessOptions(args, env);
    return { ...keylessSigning(options), signError: (err) => keylessError(err, options) };
  }
  if (!args.key) throw new LadingError('USAGE', 'sign needs --key FILE (a PEM private key: lading keygen), or --keyless');
  return keySigning(await loadSigningKey(resolve(args.key), args, env));
}

export function printSigned(ctx: CommandContext, args: GlobalArgs, result: SignResult): void {
  const out = ctx.output(args);
  for (const s of result.signatures) out.print(`Signed ${result.image}@${result.digest}: ${s.predicateType} → referrer ${shortDigest(s.digest)}`);
}

export function signCommand(ctx: CommandContext) {
  return {
    command: 'sign <image>',
    describe: 'Sign an image: a Sigstore bundle (DSSE, in-toto statement) attached as an OCI referrer',
    builder: (y: Argv<GlobalArgs>) =>
      y.positional('image', { type: 'string', demandOption: true, describe: 'store name, docker://REF or oci:DIR[:TAG]' })
        .option('key', { type: 'string', describe: 'PEM private key (ECDSA P-256, PKCS#8 or SEC1, optionally encrypted)' })
        .option('passphrase-env', { type: 'string', describe: 'the variable holding the key\'s passphrase (default LADING_KEY_PASSPHRASE)' })
        .option('provenance', { type: 'boolean', default: false, describe: 'also attach a signed SLSA provenance v1 attestation' })
        .option('path', { alias: 'p', type: 'string', describe: 'with --provenance: the app directory, digested as the source material' })
        .option('builder-id', { type: 'string', describe: 'with --provenance: the builder id (a URI naming the build platform)' })
        .option('keyless', { type: 'boolean', default: false, describe: 'online: ephemeral key certified by Fulcio for an OIDC identity, logged in Rekor' })
        .option('fulcio-url', { type: 'string', describe: 'with --keyless: the Fulcio CA (default: the public Sigstore instance)' })
        .option('rekor-url', { type: 'string', describe: 'with --keyless: the Rekor log (default: the public instance; "none" for no log entry)' })
        .option('identity-token', { type: 'string', describe: 'with --keyless: the OIDC token (default: SIGSTORE_ID_TOKEN)' })
        .example('$0 sign docker://127.0.0.1:5000/app:v1 --key lading.key', 'sign with a local key (offline)')
        .example('LADING_KEY_PASSPHRASE=… $0 sign oci:out:app --key enc.key --provenance -p .', 'an encrypted key; with provenance'),
    handler: async (args: SignArgs) => {
      const env = ctx.terminal.env;
      const ref = parseReference(args.image);
      const signing = await signingOf(args, env);
      const provenance: ProvenanceContext | undefined = args.provenance
        ? { externalParameters: { image: args.image }, ...(args.path ? { appDir: resolve(args.path) } : {}), ...(args['builder-id'] ? { builderId: args['builder-id'] } : {}) }
        : undefined;
      const result = await signImage(ref, signing, globalOpenOptions(args, ctx), provenance);
      if (ctx.output(args).json) ctx.output(args).result(result);
      else printSigned(ctx, args, result);
    },
  };
}
