import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { LadingError } from '../../../registry/oci/index.js';
import { generateKeyPair } from '../../../sbom/attestation/index.js';
import type { CommandContext, GlobalArgs } from '../context.js';
import { passphraseOf, type KeyArgs } from './sign-image.js';

export interface KeygenArgs extends GlobalArgs, KeyArgs {
  'out-dir'?: string;
  name?: string;
  force?: boolean;
}

export function keygenCommand(ctx: CommandContext) {
  return {
    command: 'keygen',
    describe: 'Write an ECDSA P-256 key pair for signing: <name>.key (PKCS#8 PEM) and <name>.pub (SPKI PEM)',
    builder: (y: Argv<GlobalArgs>) =>
      y.option('out-dir', { type: 'string', describe: 'where to write the keys (default: the current directory)' })
        .option('name', { type: 'string', default: 'lading', describe: 'file name stem' })
        .option('passphrase-env', { type: 'string', describe: 'encrypt the private key with the passphrase in this variable (default: LADING_KEY_PASSPHRASE if set)' })
        .option('force', { type: 'boolean', default: false, describe: 'overwrite existing key files' })
        .example('$0 keygen --out-dir ~/.lading', 'an unencrypted key pair')
        .example('LADING_KEY_PASSPHRASE=… $0 keygen', 'the private key encrypted (AES-256-CBC, PBES2)'),
    handler: async (args: KeygenArgs) => {
      const out = ctx.output(args);
      const passphrase = passphraseOf(args, ctx.terminal.env);
      if (passphrase === '') throw new LadingError('USAGE', 'the key passphrase is empty; unset the variable for an unencrypted key');
      const dir = resolve(args['out-dir'] ?? '.');
      const pair = generateKeyPair(passphrase !== undefined ? { passphrase } : {});
      const keyFile = join(dir, `${args.name ?? 'lading'}.key`);
      const pubFile = join(dir, `${args.name ?? 'lading'}.pub`);
      const flag = args.force ? 'w' : 'wx';
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(keyFile, pair.privateKeyPem, { mode: 0o600, flag });
        await writeFile(pubFile, pair.publicKeyPem, { mode: 0o644, flag });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EEXIST') throw new LadingError('USAGE', `${e.path ?? keyFile} exists; pass --force to overwrite it`, { cause: err });
        throw new LadingError('IO', `cannot write the key pair to ${dir}: ${e.message}`, { cause: err });
      }
      if (out.json) out.result({ privateKey: keyFile, publicKey: pubFile, keyId: pair.keyId, encrypted: passphrase !== undefined });
      else {
        out.print(`Wrote ${keyFile}${passphrase !== undefined ? ' (encrypted)' : ''} and ${pubFile}`);
        out.print(`  key id ${pair.keyId}`);
      }
    },
  };
}
