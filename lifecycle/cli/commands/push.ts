import type { Argv } from 'yargs';
import { LadingError } from '../../../registry/oci/index.js';
import { parseReference, parseRegistryReference } from '../../../registry/reference.js';
import { runCopy } from './copy.js';
import type { CommandContext, GlobalArgs } from '../context.js';

export function pushCommand(ctx: CommandContext) {
  return {
    command: 'push <name> [dest]',
    describe: 'Push an image from the local store to a registry, with its referrers',
    builder: (y: Argv<GlobalArgs>) =>
      y.positional('name', { type: 'string', demandOption: true, describe: 'local store name' })
        .positional('dest', { type: 'string', describe: 'registry reference (default: the same name)' })
        .option('referrers', { type: 'boolean', default: true, describe: 'also push SBOMs and signatures (--no-referrers to skip)' })
        .example('$0 push 127.0.0.1:5000/app:v1', 'push under the same name')
        .example('$0 push myapp ghcr.io/me/myapp:1.0', 'push under another name'),
    handler: async (args: GlobalArgs & { name: string; dest?: string; referrers: boolean }) => {
      const src = parseReference(args.name);
      if (src.transport !== 'store') throw new LadingError('USAGE', `push takes a local store name, not "${args.name}" (use \`lading copy\` for transports)`);
      const destText = (args.dest ?? args.name).replace(/^docker:\/\//, '');
      await runCopy(ctx, args, src, parseRegistryReference(destText));
    },
  };
}
