import type { Argv } from 'yargs';
import { listLocalImages } from '../../../registry/open.js';
import { humanSize, shortDigest } from '../output.js';
import { globalOpenOptions, type CommandContext, type GlobalArgs } from '../context.js';

export function imagesCommand(ctx: CommandContext) {
  return {
    command: 'images',
    describe: 'List the images in the local image store ($LADING_HOME)',
    builder: (y: Argv<GlobalArgs>) => y.example('$0 images --json', 'as JSON: [{name, digest, mediaType, created, size}]'),
    handler: async (args: GlobalArgs) => {
      const out = ctx.output(args);
      const images = await listLocalImages(globalOpenOptions(args, ctx));
      if (out.json) {
        out.result({ images });
        return;
      }
      if (images.length === 0) {
        out.print('The local image store is empty.');
        return;
      }
      const width = Math.max(4, ...images.map((i) => i.name.length));
      out.print(`${'NAME'.padEnd(width)}  DIGEST        CREATED               SIZE`);
      for (const i of images) {
        out.print(`${i.name.padEnd(width)}  ${shortDigest(i.digest)}  ${(i.created ?? '-').padEnd(20)}  ${humanSize(i.size)}`);
      }
    },
  };
}
