import type { Argv } from 'yargs';
import type { CommandContext, GlobalArgs } from '../context.js';

export interface BuildpackPackageArgs extends GlobalArgs {
  ref: string;
  path?: string;
  config?: string;
  format?: string;
  publish?: boolean;
}

export function buildpackCommand(ctx: CommandContext) {
  return {
    command: 'buildpack <command>',
    describe: 'Package buildpacks as OCI images or .cnb files (distribution spec)',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command({
          command: 'package <ref>',
          describe: 'Package a buildpack (component or composite, with its [[dependencies]]) as an image or a .cnb file',
          builder: (a: Argv<GlobalArgs>) =>
            a.positional('ref', { type: 'string', demandOption: true, describe: 'an image (local store name, registry reference with --publish, oci:DIR[:TAG]) or, with --format file, a .cnb path' })
              .option('path', { alias: 'p', type: 'string', describe: 'the buildpack directory (default: the package.toml\'s [buildpack] uri, else the current directory)' })
              .option('config', { alias: 'c', type: 'string', describe: 'package.toml (pack\'s format: [buildpack] uri, [[dependencies]] uri|image)' })
              .option('format', { alias: 'f', type: 'string', choices: ['image', 'file'], default: 'image', describe: 'image: an OCI image; file: a .cnb file (an OCI layout tar)' })
              .option('publish', { type: 'boolean', default: false, describe: 'push the image to its registry instead of the local store' })
              .example('$0 buildpack package my-bp.cnb --path ./my-bp --format file', 'a .cnb file')
              .example('$0 buildpack package 127.0.0.1:5000/me/my-bp:1 --path ./my-bp --publish', 'a buildpackage image in a registry'),
          handler: async (args: BuildpackPackageArgs) => (await import('./buildpack-package-run.js')).runBuildpackPackage(ctx, args),
        })
        .demandCommand(1, 'name a buildpack command: package'),
    handler: () => undefined,
  };
}
