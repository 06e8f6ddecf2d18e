import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { LadingError, type Digest } from '../../../registry/oci/index.js';
import { formatReference, parseReference } from '../../../registry/reference.js';
import { openSource } from '../../../registry/open.js';
import { shortDigest } from '../output.js';
import { globalOpenOptions, type CommandContext, type GlobalArgs } from '../context.js';
import { loadVerificationKey, verifiedReferrers, type KeyArgs } from './sign-image.js';

export interface VerifyArgs extends GlobalArgs, KeyArgs {
  image: string;
  key?: string;
}

/** `--json` shape of `lading verify`. */
export interface VerifyResult {
  image: string;
  digest: Digest;
  keyId: string;
  verified: { referrer: Digest; predicateType: string; keyId?: string }[];
}

export function verifyCommand(ctx: CommandContext) {
  return {
    command: 'verify <image>',
    describe: 'Verify an image\'s signatures offline with a public key (exit 16 when none verifies)',
    builder: (y: Argv<GlobalArgs>) =>
      y.positional('image', { type: 'string', demandOption: true, describe: 'store name, docker://REF or oci:DIR[:TAG]' })
        .option('key', { type: 'string', describe: 'PEM public key (SPKI), or the private key (required)' })
        .option('passphrase-env', { type: 'string', describe: 'when --key is an encrypted private key: the variable holding its passphrase' })
        .example('$0 verify docker://127.0.0.1:5000/app:v1 --key lading.pub', 'check the signature before deploying'),
    handler: async (args: VerifyArgs) => {
      const out = ctx.output(args);
      if (!args.key) throw new LadingError('USAGE', 'verify needs --key FILE (the signer\'s PEM public key)');
      const key = await loadVerificationKey(resolve(args.key), args, ctx.terminal.env);
      const ref = parseReference(args.image);
      const source = await openSource(ref, globalOpenOptions(args, ctx));
      try {
        const subject = await source.resolve();
        const { verified, failures, found } = await verifiedReferrers(source, subject.digest, { publicKey: key.publicKey });
        const image = formatReference(ref);
        if (found === 0) throw new LadingError('SIGNATURE', `${image}@${subject.digest} has no signatures (no Sigstore bundle referrers)`);
        if (verified.length === 0) {
          throw new LadingError('SIGNATURE', `${image}@${subject.digest}: none of its ${found} signature(s) verifies with key ${key.keyId.slice(0, 16)}…: ${failures.join('; ')}`);
        }
        for (const f of failures) out.log(`warning: ${f}`);
        const result: VerifyResult = {
          image,
          digest: subject.digest,
          keyId: key.keyId,
          verified: verified.map((v) => ({ referrer: v.referrer, predicateType: v.predicateType, ...(v.keyId ? { keyId: v.keyId } : {}) })),
        };
        if (out.json) out.result(result);
        else for (const v of result.verified) out.print(`Verified ${image}@${subject.digest}: ${v.predicateType} (referrer ${shortDigest(v.referrer)})`);
      } finally {
        await source.close();
      }
    },
  };
}
