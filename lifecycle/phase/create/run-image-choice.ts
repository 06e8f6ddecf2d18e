import { LadingError } from '../../../registry/oci/index.js';
import type { Label } from '../../buildpack/index.js';
import { RUN_IMAGE_FLAVORS, type BuilderRunImage, type RunImageFlavor } from '../../platform/index.js';
import type { AnalyzedRunImage, TargetMetadata } from '../analyzer.js';

/** The launch.toml label a buildpack writes to ask for a run image flavor (`static` or `base`). */
export const RUN_IMAGE_LABEL = 'io.lading.run-image';

/** The run images of a stack a build may choose from after its build phase (builder `[[run.images]]` flavors). */
export interface RunImageSet<T> {
  base: T;
  static?: T;
}

/**
 * The builder's run images by flavor: the entry with `flavor = "base"` (else the first entry without a
 * flavor, else the first entry) and the one with `flavor = "static"`. Undefined when the builder has none.
 */
export function runImageSet(images: readonly BuilderRunImage[], file = 'builder.toml'): RunImageSet<BuilderRunImage> | undefined {
  const first = images[0];
  if (!first) return undefined;
  for (const flavor of RUN_IMAGE_FLAVORS) {
    if (images.filter((i) => i.flavor === flavor).length > 1) throw new LadingError('CONTENT_INVALID', `${file}: more than one [[run.images]] entry has flavor = "${flavor}"`);
  }
  const base = images.find((i) => i.flavor === 'base') ?? images.find((i) => i.flavor === undefined) ?? first;
  const stat = images.find((i) => i.flavor === 'static');
  return stat && stat !== base ? { base, static: stat } : { base };
}

export interface FlavorChoice {
  flavor: RunImageFlavor;
  /** Why: the label's value, or that nothing asked. */
  reason: string;
}

/**
 * The flavor the build asked for through the merged launch.toml labels: `io.lading.run-image` = `static` or
 * `base`; no label means base. Any other value is the buildpacks' mistake: BUILD (exit 52).
 */
export function requestedFlavor(labels: readonly Label[]): FlavorChoice {
  const label = labels.find((l) => l.key === RUN_IMAGE_LABEL);
  if (!label) return { flavor: 'base', reason: `no buildpack set the ${RUN_IMAGE_LABEL} label` };
  if (!(RUN_IMAGE_FLAVORS as readonly string[]).includes(label.value)) {
    throw new LadingError('BUILD', `launch.toml label ${RUN_IMAGE_LABEL} = "${label.value}": must be one of ${RUN_IMAGE_FLAVORS.join(', ')}`);
  }
  return { flavor: label.value as RunImageFlavor, reason: `a buildpack set ${RUN_IMAGE_LABEL} = "${label.value}"` };
}

/**
 * The chosen image must run what detect and build were told the target is (they saw the base image's):
 * same os, architecture, variant and distro.
 */
export function checkSameTarget(base: TargetMetadata, chosen: AnalyzedRunImage): void {
  const t = chosen.target;
  const show = (x: TargetMetadata) => `${x.os}/${x.arch}${x.variant ? `/${x.variant}` : ''}${x.distro ? ` ${x.distro.name} ${x.distro.version}` : ''}`;
  const same = t.os === base.os && t.arch === base.arch && (t.variant ?? '') === (base.variant ?? '')
    && (t.distro?.name ?? '') === (base.distro?.name ?? '') && (t.distro?.version ?? '') === (base.distro?.version ?? '');
  if (!same) {
    throw new LadingError('ANALYZE', `run image ${chosen.name} is ${show(t)}, but the build ran for ${show(base)} (the base run image): the run images of one stack must share os, architecture and distro`);
  }
}
