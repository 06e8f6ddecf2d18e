import type { Argv } from 'yargs';
import { LadingError } from '../../../registry/oci/index.js';
import type { CommandContext, GlobalArgs } from '../context.js';

export interface BuildArgs extends GlobalArgs {
  image: string;
  path?: string;
  buildpack?: string[];
  builder?: string;
  'run-image'?: string;
  publish?: boolean;
  env?: string[];
  'env-file'?: string;
  volume?: string[];
  'cache-dir'?: string;
  'cache-image'?: string;
  'clear-cache'?: boolean;
  'previous-image'?: string;
  'sbom-output-dir'?: string;
  sbom?: string;
  'report-output-dir'?: string;
  'creation-time'?: string;
  'default-process'?: string;
  workspace?: string;
  'layers-dir'?: string;
  'sign-key'?: string;
  provenance?: boolean;
  'passphrase-env'?: string;
  'builder-id'?: string;
  isolation?: string;
  'trust-builder'?: boolean;
  network?: string;
}

/** Signing flags fail before the build, not after it (docs/signing.md). */
function checkSignFlags(args: BuildArgs): void {
  if (args.provenance && !args['sign-key']) throw new LadingError('USAGE', '--provenance needs --sign-key FILE (provenance is attached signed)');
  if (args['sign-key'] && /^(oci|docker)-archive:/.test(args.image)) {
    throw new LadingError('USAGE', '--sign-key: archives cannot carry referrers; build to oci:DIR, the local store or a registry');
  }
}

export function buildCommand(ctx: CommandContext) {
  return {
    command: 'build <image>',
    describe: 'Build an app into an image with Cloud Native Buildpacks (no daemon)',
    builder: (y: Argv<GlobalArgs>) =>
      y.positional('image', { type: 'string', demandOption: true, describe: 'where the image goes: a local store name, a registry reference (--publish), oci:DIR[:TAG], docker-archive:FILE[:NAME]' })
        .option('path', { alias: 'p', type: 'string', describe: 'the app directory (default: the current directory)' })
        .option('buildpack', { alias: 'b', type: 'string', array: true, describe: 'a buildpack directory, or id[@version] of a buildpack the builder has (repeatable)' })
        .option('builder', { alias: 'B', type: 'string', describe: 'a builder: a directory with a builder.toml (pack\'s format), or a builder image (registry, local store, oci:DIR[:TAG])' })
        .option('isolation', { type: 'string', choices: ['host', 'sandbox'], describe: 'host: buildpacks run on this machine; sandbox: inside the builder\'s build image as its user (default: host for trusted builders, sandbox otherwise; docs/builders.md)' })
        .option('trust-builder', { type: 'boolean', default: false, describe: 'trust the builder image: host mode allowed (untrusted builders always run sandboxed)' })
        .option('network', { type: 'string', choices: ['default', 'none'], describe: 'sandboxed builds: none cuts buildpacks off every network, loopback included' })
        .option('run-image', { type: 'string', describe: 'the run image: a registry reference, a local store name or oci:DIR[:TAG]' })
        .option('publish', { type: 'boolean', default: false, describe: 'push the image to its registry instead of the local store' })
        .option('env', { alias: 'e', type: 'string', array: true, describe: 'build-time variable K=V, or K to take it from this environment (repeatable)' })
        .option('volume', { type: 'string', array: true, describe: 'a service binding: <host-dir>:/platform/bindings/<name>[:ro] (repeatable; pack\'s syntax)' })
        .option('env-file', { type: 'string', describe: 'a file of K=V lines (build-time variables)' })
        .option('cache-dir', { type: 'string', describe: 'keep cached layers in this directory' })
        .option('cache-image', { type: 'string', describe: 'keep cached layers in this image (a registry reference or oci:DIR[:TAG])' })
        .option('clear-cache', { type: 'boolean', default: false, describe: 'ignore the cached layers (the cache is written afresh)' })
        .option('previous-image', { type: 'string', describe: 'reuse layers from this image (default: the image being built)' })
        .option('sbom-output-dir', { type: 'string', describe: 'copy the SBOM files of the build here' })
        .option('sbom', { type: 'string', choices: ['attach', 'none'], default: 'attach', describe: 'attach the image SBOM (CycloneDX + SPDX) as referrers of the image; none: do not' })
        .option('report-output-dir', { type: 'string', describe: 'write report.toml here' })
        .option('creation-time', { type: 'string', describe: 'image creation time: seconds since the epoch, or "now" (default: SOURCE_DATE_EPOCH, else 1980-01-01)' })
        .option('default-process', { alias: 'D', type: 'string', describe: 'the process type the image starts by default' })
        .option('workspace', { type: 'string', describe: 'build without a namespace: the app dir at this path (it appears in the image); needs --layers-dir' })
        .option('layers-dir', { type: 'string', describe: 'build without a namespace: the layers at this path (it appears in the image); needs --workspace' })
        .option('sign-key', { type: 'string', describe: 'sign the image after export with this PEM private key (docs/signing.md)' })
        .option('provenance', { type: 'boolean', default: false, describe: 'also attach a signed SLSA provenance v1 attestation (needs --sign-key)' })
        .option('passphrase-env', { type: 'string', describe: 'the variable holding the --sign-key passphrase (default LADING_KEY_PASSPHRASE)' })
        .option('builder-id', { type: 'string', describe: 'with --provenance: the builder id (a URI naming the build platform)' })
        .example('$0 build myapp -B ./builder', 'build the app in this directory into the local store')
        .example('$0 build 127.0.0.1:5000/app:v1 -p app -b ./my-buildpack --run-image run:base --publish', 'push to a registry')
        .example('$0 build oci:out:app -B ./builder --json', 'write an OCI layout and print the result as JSON'),
    // The phases load on first use: other commands never load the lifecycle.
    handler: async (args: BuildArgs) => {
      checkSignFlags(args);
      return (await import('./build-run.js')).runBuild(ctx, args);
    },
  };
}

