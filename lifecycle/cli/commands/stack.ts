import { join } from 'node:path';
import type { Argv } from 'yargs';
import { writeImage } from '../../../registry/image/index.js';
import { storeHome } from '../../../registry/layout/index.js';
import { LadingError } from '../../../registry/oci/index.js';
import { openSink } from '../../../registry/open.js';
import { formatReference, parseReference, parseRegistryReference, type ImageReference } from '../../../registry/reference.js';
import { putStackSbom } from '../../../sbom/index.js';
import { buildStack, lockStack, type StackEvent } from '../../../stacks/builder/index.js';
import { globalOpenOptions, type CommandContext, type GlobalArgs } from '../context.js';
import { shortDigest, type Output } from '../output.js';

interface StackArgs extends GlobalArgs {
  dir: string;
  'apt-sources'?: string;
}

interface StackBuildArgs extends StackArgs {
  publish?: string;
  output?: string;
  update?: boolean;
  'deb-cache'?: string;
  tag?: string;
}

function progress(out: Output) {
  return (e: StackEvent) => {
    if (e.type === 'resolve') out.log(`Resolving ${e.image}`);
    else if (e.type === 'download') out.log(`Downloading ${e.packages} packages through apt`);
    else if (e.type === 'extract') out.status(`Extracting ${e.package}`);
    else out.log(`Layer for ${e.image}: ${e.files} files`);
  };
}

/** Where image `name` of the stack goes: the local store (default), a registry prefix, or an OCI layout. */
function destination(args: StackBuildArgs, stackName: string, image: string): ImageReference {
  const tag = args.tag ?? 'latest';
  if (args.publish && args.output) throw new LadingError('USAGE', 'stack build: give --publish or --output, not both');
  if (args.publish) return parseRegistryReference(`${args.publish.replace(/\/+$/, '')}/${image}:${tag}`);
  if (args.output) {
    const ref = parseReference(args.output);
    if (ref.transport !== 'oci') throw new LadingError('USAGE', `stack build --output takes oci:DIR (one layout, the images tagged by name), not ${args.output}`);
    return { transport: 'oci', path: ref.path, tag: image };
  }
  return { transport: 'store', name: parseRegistryReference(`lading/stacks/${stackName}/${image}:${tag}`) };
}

export function stackCommand(ctx: CommandContext) {
  return {
    command: 'stack <command>',
    describe: 'Lock and build stacks (a build image and run images) from Debian packages',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command({
          command: 'lock <dir>',
          describe: 'Resolve the packages of each image to exact versions and sha256 sums; write <dir>/stack.lock',
          builder: (a: Argv<GlobalArgs>) =>
            a.positional('dir', { type: 'string', demandOption: true })
              .option('apt-sources', { type: 'string', describe: 'apt sources file to use instead of the machine\'s' })
              .example('$0 stack lock stacks/bookworm', 'resolve through the machine\'s apt sources'),
          handler: async (args: StackArgs) => {
            const out = ctx.output(args);
            const lock = await lockStack(args.dir, { ...(args['apt-sources'] ? { sources: args['apt-sources'] } : {}), onEvent: progress(out) });
            out.clearStatus();
            if (out.json) out.result({ lock: lock.file, architecture: lock.architecture, images: Object.fromEntries(Object.entries(lock.images).map(([k, v]) => [k, v.resolved.length])), packages: lock.packages.length });
            else out.print(`Wrote ${lock.file}: ${lock.packages.length} packages for ${lock.architecture}`);
          },
        })
        .command({
          command: 'build <dir>',
          describe: 'Build the stack\'s images from exactly the locked packages',
          builder: (a: Argv<GlobalArgs>) =>
            a.positional('dir', { type: 'string', demandOption: true })
              .option('publish', { type: 'string', describe: 'push to a registry: REPO-PREFIX/<image>:<tag>' })
              .option('output', { type: 'string', describe: 'write to an OCI layout oci:DIR, tagged by image name' })
              .option('tag', { type: 'string', describe: 'tag of the images (default latest)' })
              .option('update', { type: 'boolean', default: false, describe: 're-resolve the packages and rewrite stack.lock first' })
              .option('deb-cache', { type: 'string', describe: 'directory keeping verified .debs (default $LADING_HOME/cache/debs)' })
              .option('apt-sources', { type: 'string', describe: 'apt sources file to use instead of the machine\'s' })
              .example('$0 stack build stacks/bookworm', 'into the local store as lading/stacks/bookworm/<image>:latest')
              .example('$0 stack build stacks/bookworm --publish 127.0.0.1:5000/stacks/bookworm', 'push to a registry'),
          handler: async (args: StackBuildArgs) => {
            const out = ctx.output(args);
            const options = globalOpenOptions(args, ctx);
            const debCache = args['deb-cache'] ?? join(storeHome({ env: ctx.terminal.env }), 'cache', 'debs');
            const built = await buildStack(args.dir, {
              debCache, update: args.update ?? false, onEvent: progress(out), ...(args['apt-sources'] ? { sources: args['apt-sources'] } : {}),
            });
            try {
              const images: { name: string; ref: string; digest: string }[] = [];
              const refs = built.images.map((i) => destination(args, built.stack.name, i.name));
              // Write every image first, then commit: a failure leaves no image of the stack tagged.
              const sinks = [];
              try {
                for (const [n, b] of built.images.entries()) {
                  const sink = await openSink(refs[n]!, options);
                  sinks.push(sink);
                  await writeImage(sink, b.image);
                  // The OS-package SBOM (CycloneDX + SPDX) as referrers of the image, committed with it.
                  await putStackSbom(sink, b.image, formatReference(refs[n]!));
                }
                for (const sink of sinks) await sink.commit();
              } catch (err) {
                await Promise.all(sinks.map((s) => s.abort()));
                throw err;
              }
              for (const [n, b] of built.images.entries()) {
                images.push({ name: b.name, ref: formatReference(refs[n]!), digest: b.image.descriptor.digest });
              }
              out.clearStatus();
              if (out.json) out.result({ stack: built.stack.id, images });
              else for (const i of images) out.print(`${i.name.padEnd(12)} ${i.ref}  ${shortDigest(i.digest)}`);
            } finally {
              await built.dispose();
            }
          },
        })
        .demandCommand(1, 'name a stack command: lock or build'),
    handler: () => undefined,
  };
}
