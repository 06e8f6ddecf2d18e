import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeImage } from '../../../registry/image/index.js';
import { storeHome } from '../../../registry/layout/index.js';
import { isLadingError, LadingError, type Image } from '../../../registry/oci/index.js';
import { openSink, openSource, type OpenOptions } from '../../../registry/open.js';
import { formatReference, parseReference, withDefaultTag, type ImageReference } from '../../../registry/reference.js';
import { checkRunImageTarget, collectBuildpacks, createBuilder, openBuilderImage, readImage, stackUser } from '../../builder-image/index.js';
import { ensureStack } from '../../phase/index.js';
import { readBuilderConfig, type BuilderConfig } from '../../platform/index.js';
import { globalOpenOptions, type CommandContext } from '../context.js';
import { shortDigest } from '../output.js';
import type { BuilderCreateArgs, BuilderInspectArgs } from './builder.js';
import { ladingVersion } from './sign-provenance.js';

/** Where an image a command writes goes: the local store by default, its registry with `--publish`, or a transport. */
export function writeDestination(ref: string, publish: boolean | undefined): ImageReference {
  const parsed = parseReference(ref);
  if (parsed.transport === 'store') return publish ? withDefaultTag(parsed.name) : { transport: 'store', name: withDefaultTag(parsed.name) };
  if (publish && parsed.transport !== 'docker') throw new LadingError('USAGE', `--publish pushes to a registry; "${ref}" is not a registry reference`);
  return parsed.transport === 'docker' ? withDefaultTag(parsed) : parsed;
}

/** Writes an image to `dest` and commits it; nothing is tagged when any part fails. Returns the blobs sent. */
export async function writeCommitted(dest: ImageReference, image: Image, options: OpenOptions): Promise<number> {
  const sink = await openSink(dest, options);
  try {
    const { uploaded } = await writeImage(sink, image);
    await sink.commit();
    return uploaded;
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  }
}

/** `lading builder create REF --config builder.toml`. */
export async function runBuilderCreate(ctx: CommandContext, args: BuilderCreateArgs): Promise<void> {
  const out = ctx.output(args);
  const options = globalOpenOptions(args, ctx);
  const dest = writeDestination(args.ref, args.publish);
  const config = await readBuilderConfig(resolve(args.config));
  if (!config.buildImage) throw new LadingError('CONTENT_INVALID', `${config.file}: has no [build] image (the image buildpacks run in)`);
  // A stack's own builder (stacks/<name>/builder.toml): its images are built into the local store on first use.
  if (existsSync(join(config.dir, 'stack.toml')) && config.buildImage.startsWith('lading/stacks/')) {
    await ensureStack(config.dir, { env: ctx.terminal.env, onEvent: (e) => (e.type === 'build' ? out.log(`Building the stack ${e.stack} into the local store (${e.reason})`) : undefined) });
  }
  const buildSource = await openSource(parseReference(config.buildImage), options);
  const collected = await collectBuildpacks(config, options);
  try {
    const buildImage = await readImage(buildSource, `${config.file}: [build] image ${config.buildImage}`);
    stackUser(buildImage, config.buildImage);
    await checkRunImages(config, buildImage, options, (m) => out.log(`warning: ${m}`));
    const node = args.node === 'none' ? false : args.node ? resolve(args.node) : undefined;
    const built = await createBuilder({
      config, buildImage, buildImageName: config.buildImage, modules: collected.modules, version: ladingVersion(),
      ...(node !== undefined ? { node } : {}), ...(args.sandbox ? { isolation: 'sandbox' as const } : {}),
    });
    collected.created.push(...built.created);
    const uploaded = await writeCommitted(dest, built.image, options);
    const result = {
      image: args.ref,
      digest: built.image.descriptor.digest,
      buildpacks: collected.modules.map((m) => ({ id: m.id, version: m.version, diffId: m.layer.diffId })),
      order: built.order.map((g) => ({ group: g.map((e) => ({ id: e.id, version: e.version, ...(e.optional ? { optional: true } : {}) })) })),
      node: built.node,
      uploaded,
    };
    if (out.json) out.result(result);
    else {
      for (const m of collected.modules) out.log(`  ${m.id}@${m.version} ${shortDigest(m.layer.diffId)} (${m.origin})`);
      out.print(`Created builder ${formatReference(dest)}@${result.digest} (${collected.modules.length} buildpacks${built.node ? ', node layer' : ''})`);
    }
  } finally {
    await buildSource.close().catch(() => undefined);
    await collected.dispose();
  }
}

/** Each readable run image must match the build image; one that cannot be read now is only a warning (it may be pushed later). */
async function checkRunImages(config: BuilderConfig, buildImage: Image, options: OpenOptions, warn: (m: string) => void): Promise<void> {
  for (const r of config.runImages) {
    let source;
    try {
      source = await openSource(parseReference(r.image), options);
      const run = await readImage(source, `run image ${r.image}`);
      checkRunImageTarget(run, r.image, buildImage, config.buildImage!, config.file);
    } catch (err) {
      if (isLadingError(err) && err.code === 'CONTENT_INVALID') throw err;
      warn(`${config.file}: run image ${r.image} could not be read to check it matches the build image (${(err as Error).message})`);
    } finally {
      await source?.close().catch(() => undefined);
    }
  }
}

/** `lading builder inspect REF`. */
export async function runBuilderInspect(ctx: CommandContext, args: BuilderInspectArgs): Promise<void> {
  const out = ctx.output(args);
  const options = globalOpenOptions(args, ctx);
  const builder = await openBuilderImage(args.ref, { ...options, cacheDir: join(storeHome({ env: ctx.terminal.env }), 'cache', 'builders') });
  try {
    const { metadata, lading, config } = builder;
    const result = {
      image: args.ref,
      digest: builder.image.descriptor.digest,
      description: metadata.description,
      createdBy: metadata.createdBy,
      buildpacks: builder.modules.map((m) => ({ id: m.id, version: m.version, ...(m.info.homepage ? { homepage: m.info.homepage } : {}), diffId: m.layer.diffId })),
      order: config.order.map((g) => ({ group: g.map((e) => ({ id: e.id, ...(e.version ? { version: e.version } : {}), ...(e.optional ? { optional: true } : {}) })) })),
      runImages: config.runImages,
      buildEnv: config.buildEnv.map((e) => ({ name: e.name, action: e.action, value: e.value })),
      user: lading?.user,
      node: lading?.nodeLayer !== undefined,
      isolation: lading?.isolation ?? 'host',
      lifecycle: metadata.lifecycle,
    };
    if (out.json) {
      out.result(result);
      return;
    }
    out.print(`Builder ${args.ref}@${result.digest}`);
    if (result.description) out.print(`Description: ${result.description}`);
    out.print(`Created by: ${metadata.createdBy?.name ?? '?'} ${metadata.createdBy?.version ?? ''}`.trimEnd());
    if (result.user) out.print(`Build user: ${result.user.uid}:${result.user.gid}`);
    out.print(`Isolation: ${result.isolation}${result.node ? '; node layer /cnb/node' : ''}`);
    out.print('Run images:');
    for (const r of config.runImages) out.print(`  ${r.image}${r.flavor ? ` (${r.flavor})` : ''}${r.mirrors.length ? ` mirrors: ${r.mirrors.join(', ')}` : ''}`);
    out.print('Buildpacks:');
    for (const b of result.buildpacks) out.print(`  ${b.id.padEnd(30)} ${b.version.padEnd(10)} ${shortDigest(b.diffId)}`);
    out.print('Detection order:');
    config.order.forEach((g, i) => out.print(`  ${i + 1}. ${g.map((e) => `${e.id}@${e.version ?? '*'}${e.optional ? ' (optional)' : ''}`).join(', ')}`));
    if (result.buildEnv.length > 0) {
      out.print('Build env:');
      for (const e of result.buildEnv) out.print(`  ${e.name} (${e.action}) = ${e.value}`);
    }
  } finally {
    await builder.close();
  }
}
