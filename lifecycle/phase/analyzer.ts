import {
  LadingError, isLadingError, type ContentSource, type Digest, type Image,
} from '../../registry/oci/index.js';
import { imageFromSource } from '../../registry/image/index.js';
import { LIFECYCLE_METADATA_LABEL, parseLifecycleMetadata, type LifecycleMetadata } from '../platform/index.js';

/** Labels a run image declares its distro with (platform.md "Target Data"). */
export const DISTRO_NAME_LABEL = 'io.buildpacks.base.distro.name';
export const DISTRO_VERSION_LABEL = 'io.buildpacks.base.distro.version';

/** The target of the build: what the run image runs on. */
export interface TargetMetadata {
  os: string;
  arch: string;
  variant?: string;
  distro?: { name: string; version: string };
}

export interface AnalyzeInput {
  /** The image this build replaces (`--previous-image`, default the output name); absent or missing is fine. */
  previousImage?: ContentSource;
  runImage: {
    source: ContentSource;
    /** The run image name as the platform gave it (recorded as `runImage.image`). */
    image: string;
    mirrors?: string[];
  };
  onWarning?: (message: string) => void;
}

export interface PreviousImage {
  image: Image;
  digest: Digest;
  /** Where it was read, for messages and analyzed.toml. */
  reference: string;
  /** Its `io.buildpacks.lifecycle.metadata` (empty when it has none). */
  metadata: LifecycleMetadata;
}

export interface AnalyzedRunImage {
  image: Image;
  /** The name as given, and mirrors, for `runImage.image`/`mirrors`. */
  name: string;
  mirrors: string[];
  /** A digest reference (`registry/repo@sha256:…`, or `<name>@sha256:…` outside a registry). */
  reference: string;
  digest: Digest;
  /** diffID of its top layer (what rebase replaces up to). */
  topLayer: Digest;
  target: TargetMetadata;
}

/** The analyzer's output (platform.md `analyzed.toml`), typed; images are kept so later phases reuse their layers. */
export interface Analyzed {
  previousImage?: PreviousImage;
  runImage: AnalyzedRunImage;
}

/** An empty lifecycle metadata label (no previous build). */
export function emptyLifecycleMetadata(): LifecycleMetadata {
  return { app: [], buildpacks: [], config: { sha: '' }, launcher: { sha: '' }, processTypes: { sha: '' }, runImage: { topLayer: '', reference: '', image: '' } };
}

/**
 * Phase "analyze" (platform.md `analyzer`): reads the previous image's layer metadata, if that image exists,
 * and resolves the run image to a digest with its top layer and target. Failures are ANALYZE (exit 32).
 */
export async function analyze(input: AnalyzeInput): Promise<Analyzed> {
  const previousImage = input.previousImage ? await readPreviousImage(input.previousImage, input.onWarning) : undefined;
  const runImage = await readRunImage(input.runImage);
  return previousImage ? { previousImage, runImage } : { runImage };
}

/** The previous image and its layer metadata; undefined when there is none (the creator reads it while detect runs). */
export async function readPreviousImage(source: ContentSource, onWarning?: (m: string) => void): Promise<PreviousImage | undefined> {
  let image: Image;
  try {
    image = await imageFromSource(source, await source.resolve());
  } catch (err) {
    if (isLadingError(err) && err.code === 'NOT_FOUND') return undefined;
    throw analyzeError(`previous image ${source.location}`, err);
  }
  const label = image.config.config?.Labels?.[LIFECYCLE_METADATA_LABEL];
  let metadata = emptyLifecycleMetadata();
  if (label !== undefined) {
    try {
      metadata = parseLifecycleMetadata(label, 'ANALYZE');
    } catch (err) {
      onWarning?.(`previous image ${source.location}: ignoring its layer metadata (${(err as Error).message}); nothing will be reused`);
    }
  }
  return { image, digest: image.descriptor.digest, reference: digestReference(source, source.location, image.descriptor.digest), metadata };
}

/** Resolves one run image to a digest, top layer and target (the creator also uses it for a run image chosen after build). */
export async function readRunImage(run: AnalyzeInput['runImage']): Promise<AnalyzedRunImage> {
  let image: Image;
  try {
    image = await imageFromSource(run.source, await run.source.resolve());
  } catch (err) {
    throw analyzeError(`run image ${run.source.location}`, err);
  }
  const top = image.layers.at(-1);
  if (!top) throw new LadingError('ANALYZE', `run image ${run.source.location}: has no layers`);
  const labels = image.config.config?.Labels ?? {};
  const target: TargetMetadata = { os: image.config.os, arch: image.config.architecture };
  if (image.config.variant) target.variant = image.config.variant;
  const distroName = labels[DISTRO_NAME_LABEL];
  if (distroName) target.distro = { name: distroName, version: labels[DISTRO_VERSION_LABEL] ?? '' };
  const digest = image.descriptor.digest;
  return {
    image,
    name: run.image,
    mirrors: run.mirrors ?? [],
    reference: digestReference(run.source, run.image, digest),
    digest,
    topLayer: top.diffId,
    target,
  };
}

/** `registry/repo@digest` for registry images; otherwise the given name without tag, `@digest`. */
function digestReference(source: ContentSource, name: string, digest: Digest): string {
  if (source.repository) return `${source.repository.registry}/${source.repository.repository}@${digest}`;
  return `${name.replace(/@sha256:[0-9a-f]{64}$/, '')}@${digest}`;
}

function analyzeError(what: string, err: unknown): LadingError {
  const message = err instanceof Error ? err.message : String(err);
  return new LadingError('ANALYZE', `${what}: ${message}`, { cause: err });
}
