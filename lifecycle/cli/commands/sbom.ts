import type { Argv } from 'yargs';
import { LadingError } from '../../../registry/oci/index.js';
import type { CommandContext, GlobalArgs } from '../context.js';

export interface SbomArgs extends GlobalArgs {
  image: string;
  format?: 'cyclonedx' | 'spdx' | 'table';
  output?: string;
}

export interface SbomDownloadArgs extends GlobalArgs {
  image: string;
  output?: string;
}

export interface SbomDiffArgs extends GlobalArgs {
  a: string;
  b: string;
}

export interface SbomValidateArgs extends GlobalArgs {
  target: string;
  'spdx-schema'?: string;
}

const run = () => import('./sbom-run.js');

export function sbomCommand(ctx: CommandContext) {
  return {
    // `[image]`, not `<image>`: yargs demands a required positional of the parent also under its subcommands
    // (`lading sbom diff A B` failed with "Missing required argument: image"); the handler asks for it instead.
    command: 'sbom [image]',
    describe: 'Print, download, compare and validate image SBOMs (CycloneDX 1.6, SPDX 2.3)',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command({
          command: 'download <image>',
          describe: 'Write the buildpacks\' layer SBOMs of the image as pack does: DIR/layers/sbom/launch/<bp>/<layer>/sbom.<ext>',
          builder: (a: Argv<GlobalArgs>) =>
            a.positional('image', { type: 'string', demandOption: true })
              .option('output', { alias: 'o', type: 'string', describe: 'directory (default: the current directory)' }),
          handler: async (args: SbomDownloadArgs) => (await run()).runSbomDownload(ctx, args),
        })
        .command({
          command: 'diff <a> <b>',
          describe: 'Packages added, removed, and changed in version or license between two images or SBOM files',
          builder: (a: Argv<GlobalArgs>) => a.positional('a', { type: 'string', demandOption: true }).positional('b', { type: 'string', demandOption: true }),
          handler: async (args: SbomDiffArgs) => (await run()).runSbomDiff(ctx, args),
        })
        .command({
          command: 'validate <target>',
          describe: 'Validate an SBOM file, or an image\'s SBOMs, against CycloneDX 1.6 / SPDX 2.3 and lading\'s rules',
          builder: (a: Argv<GlobalArgs>) =>
            a.positional('target', { type: 'string', demandOption: true, describe: 'an SBOM file or an image' })
              .option('spdx-schema', { type: 'string', describe: 'the SPDX 2.3 JSON schema file (default $LADING_SPDX_SCHEMA); without it SPDX gets the required-field checks' }),
          handler: async (args: SbomValidateArgs) => (await run()).runSbomValidate(ctx, args),
        })
        .positional('image', { type: 'string', describe: 'the image (any transport)' })
        .option('format', { type: 'string', choices: ['cyclonedx', 'spdx', 'table'], default: 'cyclonedx', describe: 'document format, or a summary table' })
        .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' })
        .example('$0 sbom 127.0.0.1:5000/app:v1 --format table', 'packages by ecosystem, license counts, unknowns')
        .example('$0 sbom download oci:out:app -o sboms', 'the per-buildpack SBOM files')
        .example('$0 sbom diff app:v1 app:v2', 'what changed'),
    handler: async (args: SbomArgs) => {
      if (!args.image) throw new LadingError('USAGE', 'name an image: lading sbom IMAGE, or a subcommand: download, diff, validate');
      return (await run()).runSbom(ctx, args);
    },
  };
}
