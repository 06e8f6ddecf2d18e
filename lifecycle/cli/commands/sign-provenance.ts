import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDigest, MediaType, type Digest } from '../../../registry/oci/index.js';
import { imageFromSource } from '../../../registry/image/index.js';
import {
  BUILD_METADATA_LABEL, LIFECYCLE_METADATA_LABEL, parseBuildMetadata, parseLifecycleMetadata,
} from '../../platform/index.js';
import { provenancePredicate, sourceDigest, type ProvenanceBuildpack } from '../../../sbom/attestation/index.js';
import type { SignTarget } from './sign-image.js';

/** What the caller knows about the build that the image's labels do not say. */
export interface ProvenanceContext {
  /** The build's inputs as given (flag values, variable names; no secrets, no absolute host paths). */
  externalParameters: Record<string, unknown>;
  /** The app directory, digested as the source material. */
  appDir?: string;
  builderId?: string;
  /** Only with `--creation-time now`. */
  startedOn?: string;
  finishedOn?: string;
}

let version: string | undefined;
/** lading's own version, from its package.json (found above this module, in the source tree or under dist/). */
export function ladingVersion(): string {
  if (version !== undefined) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'lading' && pkg.version) return (version = pkg.version);
    }
    const up = dirname(dir);
    if (up === dir) return (version = 'unknown');
    dir = up;
  }
}

/** `registry/repo@sha256:…` → the digest; anything else → undefined. */
function digestOfReference(reference: string): Digest | undefined {
  const at = reference.lastIndexOf('@');
  const d = at >= 0 ? reference.slice(at + 1) : '';
  return isDigest(d) ? d : undefined;
}

/**
 * The SLSA provenance v1 predicate of a built image: buildpacks and versions from io.buildpacks.build.metadata,
 * the run image (reference and digest) from io.buildpacks.lifecycle.metadata, the source digest of the app dir.
 */
export async function provenanceFor(target: SignTarget, context: ProvenanceContext): Promise<Record<string, unknown>> {
  let buildpacks: ProvenanceBuildpack[] = [];
  let runImage: { reference: string; digest?: Digest } | undefined;
  if (target.subject.mediaType === MediaType.OciManifest || target.subject.mediaType === MediaType.DockerManifest) {
    const labels = (await imageFromSource(target.source, target.subject)).config.config?.Labels ?? {};
    const build = labels[BUILD_METADATA_LABEL];
    if (build) buildpacks = parseBuildMetadata(build).buildpacks.map((b) => ({ id: b.id, version: b.version, ...(b.homepage ? { homepage: b.homepage } : {}) }));
    const lifecycle = labels[LIFECYCLE_METADATA_LABEL];
    if (lifecycle) {
      const run = parseLifecycleMetadata(lifecycle).runImage;
      const reference = run.reference || run.image;
      if (reference) {
        const digest = digestOfReference(run.reference);
        runImage = { reference: run.image || reference, ...(digest ? { digest } : {}) };
      }
    }
  }
  return provenancePredicate({
    ladingVersion: ladingVersion(),
    externalParameters: context.externalParameters,
    buildpacks,
    ...(runImage ? { runImage } : {}),
    ...(context.appDir ? { source: { name: 'source', digest: await sourceDigest(context.appDir) } } : {}),
    ...(context.builderId ? { builderId: context.builderId } : {}),
    ...(context.startedOn ? { startedOn: context.startedOn } : {}),
    ...(context.finishedOn ? { finishedOn: context.finishedOn } : {}),
  });
}
