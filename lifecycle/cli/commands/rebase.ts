import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Argv } from 'yargs';
import { pickPlatform } from '../../../registry/copy/index.js';
import { imageFromSource } from '../../../registry/image/index.js';
import { storeHome } from '../../../registry/layout/index.js';
import { LadingError, parseManifest, type BlobPutResult, type ContentSource, type Image } from '../../../registry/oci/index.js';
import { openSink, openSource } from '../../../registry/open.js';
import { familiarName, formatReference, parseReference, type ImageReference } from '../../../registry/reference.js';
import { LIFECYCLE_METADATA_LABEL, parseLifecycleMetadata } from '../../platform/index.js';
import { rebaseApp } from '../../phase/index.js';
import { globalOpenOptions, platformOf, type CommandContext, type GlobalArgs } from '../context.js';
import { shortDigest } from '../output.js';
import { attachImageSbom } from './sbom-attach.js';

interface RebaseArgs extends GlobalArgs {
  image: string;
  'run-image'?: string;
  publish?: boolean;
  force?: boolean;
  sbom?: string;
}

/** With --publish a bare name means the registry (as pack's --publish); otherwise the local store. */
function reference(text: string, publish: boolean): ImageReference {
  const ref = parseReference(text);
  return publish && ref.transport === 'store' ? ref.name : ref;
}

async function readImage(source: ContentSource, args: GlobalArgs): Promise<Image> {
  const desc = await source.resolve();
  const fetched = await source.manifest(desc.digest, desc.mediaType);
  const parsed = parseManifest(fetched.bytes, `${source.location} manifest ${desc.digest}`, fetched.mediaType);
  return imageFromSource(source, parsed.kind === 'index' ? pickPlatform(parsed, source.location, platformOf(args)) : desc);
}

/** What uniquely names the run image in `runImage.reference`: `repo@digest` in a registry, else the digest. */
function uniqueReference(ref: ImageReference, image: Image): string {
  if (ref.transport === 'docker') return familiarName({ ...ref, tag: undefined, digest: image.descriptor.digest } as typeof ref);
  if (ref.transport === 'store') return familiarName({ ...ref.name, tag: undefined, digest: image.descriptor.digest } as typeof ref.name);
  return image.descriptor.digest;
}

const name = (ref: ImageReference) => (ref.transport === 'docker' ? familiarName(ref) : formatReference(ref));

export function rebaseCommand(ctx: CommandContext) {
  return {
    command: 'rebase <image>',
    describe: 'Swap the run-image layers of an app image for a newer run image, without rebuilding',
    builder: (y: Argv<GlobalArgs>) =>
      y.positional('image', { type: 'string', demandOption: true, describe: 'app image (local store name, registry ref with --publish, or a transport)' })
        .option('run-image', { type: 'string', describe: 'the new run image (default: the recorded runImage.image)' })
        .option('publish', { type: 'boolean', default: false, describe: 'rebase in the registry: uploads only config and manifest' })
        .option('force', { type: 'boolean', default: false, describe: 'rebase across distros, architectures or removed packages' })
        .option('sbom', { type: 'string', choices: ['attach', 'none'], default: 'attach', describe: 'attach a fresh image SBOM (CycloneDX + SPDX, the new run image\'s OS packages) as referrers of the rebased image; none: do not' })
        .example('$0 rebase --publish 127.0.0.1:5000/app:v1 --run-image 127.0.0.1:5000/stacks/run-base:v2', 'in a registry')
        .example('$0 rebase myapp', 'in the local store, onto the current tag of the recorded run image'),
    handler: async (args: RebaseArgs) => {
      const out = ctx.output(args);
      const options = globalOpenOptions(args, ctx);
      const started = process.hrtime.bigint();
      const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
      const appRef = reference(args.image, args.publish ?? false);
      const appSource = await openSource(appRef, options);
      let runSource: ContentSource | undefined;
      try {
        const app = await readImage(appSource, args);
        const label = app.config.config?.Labels?.[LIFECYCLE_METADATA_LABEL];
        const recorded = label ? parseLifecycleMetadata(label, 'REBASE').runImage.image : '';
        const runText = args['run-image'] ?? recorded;
        if (!runText) throw new LadingError('REBASE', `${name(appRef)} has no ${LIFECYCLE_METADATA_LABEL} label with a run image: it was not built by a CNB lifecycle; nothing to rebase`);
        const runRef = reference(runText, args.publish ?? false);
        runSource = await openSource(runRef, options);
        const runImage = await readImage(runSource, args);
        const read = seconds(started);
        const t1 = process.hrtime.bigint();
        const result = rebaseApp({
          app, appName: name(appRef), runImage, runImageName: name(runRef), runImageReference: uniqueReference(runRef, runImage), force: args.force ?? false,
        });
        for (const w of result.warnings) out.log(`warning: ${w}`);
        const image = result.image;
        const rebased = seconds(t1);
        const t2 = process.hrtime.bigint();
        const sink = await openSink(appRef, options);
        let putResults: BlobPutResult[] = [];
        let configResult: BlobPutResult;
        try {
          const runLayers = runImage.layers.length;
          // Run-image layers may live in the run image's repository: the sink mounts them from there.
          putResults = await Promise.all(image.layers.map((layer, i) => {
            const from = i < runLayers ? runSource!.repository : appSource.repository;
            return sink.putBlob({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, () => layer.compressed(), from ? { from } : {});
          }));
          configResult = await sink.putBlob(image.manifest.config, async () => Readable.from([image.rawConfig]));
          await sink.putManifest(image.rawManifest, image.descriptor.mediaType, { tag: true });
          await sink.commit();
        } catch (err) {
          await sink.abort();
          throw err;
        }
        const uploaded = [...putResults, configResult].filter((r) => r === 'uploaded').length + 1; // + the manifest
        // The image SBOM of the rebased image (new run image's dpkg records + the app's CNB SBOM layer), as build
        // attaches it: referrers of the new manifest, not counted in `uploaded` (that is the image itself).
        const t3 = process.hrtime.bigint();
        const sbom = args.sbom === 'none' ? undefined : await attachImageSbom({
          dest: appRef, name: args.image, digest: image.descriptor.digest, options, onWarning: (m) => out.log(`warning: ${m}`),
          osPackagesDir: join(storeHome({ env: ctx.terminal.env }), 'cache', 'os-packages'),
        });
        const sbomSeconds = seconds(t3);
        const runLayers = runImage.layers.length;
        const layers = image.layers.map((l, i) => ({
          name: i < runLayers ? `run-image:${i}` : `app:${i - runLayers}`, diffId: l.diffId, digest: l.digest, size: l.size, reused: putResults[i] !== 'uploaded',
        }));
        const durations = { read, rebase: rebased, write: seconds(t2) - sbomSeconds, ...(sbom ? { sbom: sbomSeconds } : {}), total: seconds(started) };
        if (out.json) {
          out.result({
            image: name(appRef), digest: image.descriptor.digest, previousDigest: app.descriptor.digest, runImage: result.metadata.runImage,
            layers, uploaded, addedPackages: result.addedPackages, removedPackages: result.removedPackages, warnings: result.warnings,
            ...(sbom ? { sbom: { packages: sbom.packages, referrers: sbom.referrers.map((r) => ({ digest: r.digest })) } } : {}),
            durations,
          });
        } else {
          out.print(`Rebased ${name(appRef)} onto ${name(runRef)}`);
          out.print(`  digest ${image.descriptor.digest} (was ${shortDigest(app.descriptor.digest)}); ${result.appLayers} app layers kept; ${uploaded} blobs sent`);
          if (sbom) out.print(`  image SBOM: ${sbom.packages} packages, ${sbom.referrers.length} referrers`);
        }
      } finally {
        await runSource?.close();
        await appSource.close();
      }
    },
  };
}
