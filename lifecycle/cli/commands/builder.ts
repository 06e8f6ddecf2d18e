import type { Argv } from 'yargs';
import type { CommandContext, GlobalArgs } from '../context.js';

export interface BuilderCreateArgs extends GlobalArgs {
  ref: string;
  config: string;
  publish?: boolean;
  node?: string;
  sandbox?: boolean;
}

export interface BuilderInspectArgs extends GlobalArgs {
  ref: string;
}

export function builderCommand(ctx: CommandContext) {
  return {
    command: 'builder <command>',
    describe: 'Create and inspect builder images (pack\'s builder.toml; no daemon)',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command({
          command: 'create <ref>',
          describe: 'Build a builder image from a builder.toml: build image + buildpacks + order + run images',
          builder: (a: Argv<GlobalArgs>) =>
            a.positional('ref', { type: 'string', demandOption: true, describe: 'where the builder goes: a local store name, a registry reference (--publish), oci:DIR[:TAG]' })
              .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'the builder.toml (pack\'s format)' })
              .option('publish', { type: 'boolean', default: false, describe: 'push to the registry of REF instead of the local store' })
              .option('node', { type: 'string', describe: 'node executable for the builder\'s node layer (default: the node running lading); "none" for no node layer' })
              .option('sandbox', { type: 'boolean', default: false, describe: 'mark the builder so builds with it always run buildpacks sandboxed' })
              .example('$0 builder create 127.0.0.1:5000/me/builder:1 --config builder.toml --publish', 'create and push a builder')
              .example('$0 builder create oci:out:builder -c builder.toml', 'write an OCI layout'),
          handler: async (args: BuilderCreateArgs) => (await import('./builder-run.js')).runBuilderCreate(ctx, args),
        })
        .command({
          command: 'inspect <ref>',
          describe: 'Show a builder image: buildpacks, order, run images, build image user, lifecycle APIs',
          builder: (a: Argv<GlobalArgs>) =>
            a.positional('ref', { type: 'string', demandOption: true, describe: 'a builder image: local store name, registry reference, oci:DIR[:TAG]' })
              .example('$0 builder inspect 127.0.0.1:5000/me/builder:1', 'what builds with this builder will use'),
          handler: async (args: BuilderInspectArgs) => (await import('./builder-run.js')).runBuilderInspect(ctx, args),
        })
        .demandCommand(1, 'name a builder command: create or inspect'),
    handler: () => undefined,
  };
}
