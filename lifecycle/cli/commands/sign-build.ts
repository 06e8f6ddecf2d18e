import { basename, isAbsolute, resolve } from 'node:path';
import type { Digest } from '../../../registry/oci/index.js';
import type { ImageReference } from '../../../registry/reference.js';
import { globalOpenOptions, type CommandContext } from '../context.js';
import type { BuildArgs } from './build.js';
import { keySigning, loadSigningKey } from './sign-image.js';
import { printSigned, signImage, type SignResult } from './sign.js';
import type { ProvenanceContext } from './sign-provenance.js';

/** A path as the provenance records it: as given, but never an absolute host path (its last component instead). */
function asGiven(p: string): string {
  return isAbsolute(p) ? basename(p) : p;
}

/**
 * The build's external parameters for provenance: what the user asked for, without secrets (variable names,
 * never values) and without absolute host paths.
 */
export function buildParameters(args: BuildArgs): Record<string, unknown> {
  const params: Record<string, unknown> = { image: args.image, publish: args.publish ?? false };
  if (args.builder) params.builder = asGiven(args.builder);
  if (args.buildpack?.length) params.buildpacks = args.buildpack.map(asGiven);
  if (args['run-image']) params.runImage = args['run-image'];
  if (args.env?.length) params.env = [...new Set(args.env.map((e) => e.split('=')[0]!))].sort();
  if (args['env-file']) params.envFile = asGiven(args['env-file']);
  if (args['creation-time']) params.creationTime = args['creation-time'];
  if (args['default-process']) params.defaultProcess = args['default-process'];
  if (args.platform) params.platform = args.platform;
  return params;
}

/**
 * `lading build --sign-key FILE [--provenance]`: after a successful export, signs the image written to `dest`
 * (refused unless it is still `digest`) and, with --provenance, attaches a signed SLSA provenance of this build.
 */
export async function signBuild(
  ctx: CommandContext, args: BuildArgs, dest: ImageReference, digest: Digest, build: { appDir: string; durations: Record<string, number> },
): Promise<SignResult | undefined> {
  if (!args['sign-key']) return undefined;
  const key = await loadSigningKey(resolve(args['sign-key']), args, ctx.terminal.env, '--sign-key');
  let provenance: ProvenanceContext | undefined;
  if (args.provenance) {
    provenance = { externalParameters: buildParameters(args), appDir: build.appDir };
    if (args['builder-id']) provenance.builderId = args['builder-id'];
    if (args['creation-time'] === 'now') {
      const finished = Date.now();
      const seconds = Object.values(build.durations).reduce((a, b) => a + b, 0);
      provenance.startedOn = new Date(finished - Math.round(seconds * 1000)).toISOString();
      provenance.finishedOn = new Date(finished).toISOString();
    }
  }
  const result = await signImage(dest, keySigning(key), globalOpenOptions(args, ctx), provenance, digest);
  if (!ctx.output(args).json) printSigned(ctx, args, result);
  return result;
}
