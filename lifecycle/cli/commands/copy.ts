import type { Argv } from 'yargs';
import { copy, type CopyResult } from '../../../registry/copy/index.js';
import { formatReference, parseReference, type ImageReference } from '../../../registry/reference.js';
import { openSink, openSource } from '../../../registry/open.js';
import { humanSize, shortDigest } from '../output.js';
import { globalOpenOptions, platformOf, type CommandContext, type GlobalArgs } from '../context.js';

export interface CopyArgs extends GlobalArgs {
  all?: boolean;
  referrers?: boolean;
}

/** Copies src to dest and prints the result; shared by `copy` and `push`. */
export async function runCopy(ctx: CommandContext, args: CopyArgs, src: ImageReference, dest: ImageReference): Promise<CopyResult> {
  const out = ctx.output(args);
  const options = globalOpenOptions(args, ctx);
  const source = await openSource(src, options);
  try {
    const sink = await openSink(dest, options);
    let sent = 0;
    const result = await copy(source, sink, {
      all: args.all ?? false,
      referrers: args.referrers ?? false,
      platform: platformOf(args),
      onEvent: (e) => {
        if (e.type === 'blob') {
          if (e.result === 'uploaded') sent += e.size;
          out.status(`${e.result.padEnd(8)} ${shortDigest(e.digest)} ${humanSize(e.size)}  (${humanSize(sent)} sent)`);
        } else if (e.type === 'manifest') {
          out.debug(`manifest ${e.digest}${e.tagged ? ' (tagged)' : ''}`);
        } else {
          out.debug(`referrer ${e.digest} of ${e.subject} ${e.artifactType ?? ''}`);
        }
      },
    });
    out.clearStatus();
    if (out.json) {
      out.result({
        image: formatReference(dest), source: formatReference(src), digest: result.descriptor.digest, mediaType: result.descriptor.mediaType,
        uploaded: result.uploaded, blobs: result.blobs, manifests: result.manifests, referrers: result.referrers,
      });
    } else {
      out.print(`Copied ${formatReference(src)} to ${formatReference(dest)}`);
      out.print(`  digest ${result.descriptor.digest}; ${result.uploaded} of ${result.blobs} blobs sent${result.referrers ? `; ${result.referrers} referrers` : ''}`);
    }
    return result;
  } finally {
    await source.close();
  }
}

export function copyCommand(ctx: CommandContext) {
  return {
    command: 'copy <src> <dest>',
    describe: 'Copy an image between registries, OCI layouts, archives and the local store',
    builder: (y: Argv<GlobalArgs>) =>
      y.positional('src', { type: 'string', demandOption: true })
        .positional('dest', { type: 'string', demandOption: true })
        .option('all', { type: 'boolean', default: false, describe: 'copy an image index with every platform image' })
        .option('referrers', { type: 'boolean', default: false, describe: 'also copy artifacts that refer to the image (SBOMs, signatures)' })
        .example('$0 copy docker://127.0.0.1:5000/app:v1 oci:./layout:v1', 'registry to an OCI layout')
        .example('$0 copy myapp docker-archive:app.tar:myapp:latest', 'local store to a `docker load`-able tar')
        .example('$0 copy --all --referrers docker://reg/a:1 docker://other/a:1', 'every platform, with SBOMs and signatures'),
    handler: async (args: CopyArgs & { src: string; dest: string }) => {
      await runCopy(ctx, args, parseReference(args.src), parseReference(args.dest));
    },
  };
}
