import { resolve } from 'node:path';
import { LadingError } from '../../../registry/oci/index.js';
import { formatReference, parseReference, type ImageReference } from '../../../registry/reference.js';
import { packageBuildpack, readPackageConfig, type PackageConfig } from '../../buildpackage/index.js';
import { globalOpenOptions, platformOf, type CommandContext } from '../context.js';
import { shortDigest } from '../output.js';
import type { BuildpackPackageArgs } from './buildpack-package.js';
import { writeCommitted, writeDestination } from './builder-run.js';

/** `lading buildpack package REF --path DIR [--config package.toml] [--format image|file] [--publish]`. */
export async function runBuildpackPackage(ctx: CommandContext, args: BuildpackPackageArgs): Promise<void> {
  const out = ctx.output(args);
  const options = globalOpenOptions(args, ctx);
  let dest: ImageReference;
  if (args.format === 'file') {
    if (args.publish) throw new LadingError('USAGE', '--publish pushes an image; --format file writes a .cnb file');
    if (/^[a-z-]+:/.test(args.ref) && !args.ref.startsWith('oci-archive:')) throw new LadingError('USAGE', `--format file: "${args.ref}" should be a file path (a .cnb file)`);
    dest = args.ref.startsWith('oci-archive:') ? parseReference(args.ref) : { transport: 'oci-archive', path: resolve(args.ref) };
  } else {
    dest = writeDestination(args.ref, args.publish);
  }
  const config: PackageConfig = args.config ? await readPackageConfig(resolve(args.config)) : { buildpack: resolve('.'), dependencies: [] };
  if (args.path) config.buildpack = resolve(args.path);
  const pkg = await packageBuildpack({ config, platform: platformOf(args), open: options });
  try {
    const uploaded = await writeCommitted(dest, pkg.image, options);
    if (out.json) {
      out.result({
        image: args.ref,
        digest: pkg.image.descriptor.digest,
        id: pkg.entry.id,
        version: pkg.entry.version,
        buildpacks: pkg.modules.map((m) => ({ id: m.id, version: m.version, diffId: m.layer.diffId })),
        uploaded,
      });
    } else {
      for (const m of pkg.modules) out.log(`  ${m.id}@${m.version} ${shortDigest(m.layer.diffId)}`);
      out.print(`Packaged ${pkg.entry.id}@${pkg.entry.version} as ${formatReference(dest)} (${pkg.modules.length} buildpack${pkg.modules.length === 1 ? '' : 's'}, ${shortDigest(pkg.image.descriptor.digest)})`);
    }
  } finally {
    await pkg.dispose();
  }
}
