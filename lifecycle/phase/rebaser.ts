import { rebase as swapBase, withConfig } from '../../registry/mutate/index.js';
import { LadingError, type Image } from '../../registry/oci/index.js';
import { LIFECYCLE_METADATA_LABEL, REBASABLE_LABEL, parseLifecycleMetadata, serializeLifecycleMetadata, type LifecycleMetadata } from '../platform/index.js';

/** The package list label stack images carry (stacks/builder image-config): `{"name": "version", …}`. */
export const RUN_IMAGE_PACKAGES_LABEL = 'io.lading.stack.packages';

export interface RebaseInput {
  /** The app image, where it was read from (for messages). */
  app: Image;
  appName: string;
  /** The new run image. */
  runImage: Image;
  /** How the user named the new run image (recorded as `runImage.image` when it is a new name). */
  runImageName: string;
  /** What uniquely identifies the new run image (`repo@sha256:…` for registries, else the digest). */
  runImageReference: string;
  force?: boolean;
}

export interface RebaseOutput {
  image: Image;
  metadata: LifecycleMetadata;
  /** OS packages the new run image adds (warned) and removes (refused unless forced). */
  addedPackages: string[];
  removedPackages: string[];
  warnings: string[];
  /** Layers above the run image, kept byte-identical. */
  appLayers: number;
}

function refuse(message: string): never {
  throw new LadingError('REBASE', message);
}

/** Labels describing the run image: replaced wholesale on rebase (platform.md rebaser outputs). */
function isBaseLabel(key: string): boolean {
  return key.startsWith('io.buildpacks.base.') || key.startsWith('io.buildpacks.stack.') || key.startsWith('io.lading.stack.');
}

function packagesOf(labels: Record<string, string>): Record<string, string> | undefined {
  const text = labels[RUN_IMAGE_PACKAGES_LABEL];
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, string>;
  } catch {
    // fall through: an unreadable list is treated as absent
  }
  return undefined;
}

/**
 * Rebases an app image onto a new run image (platform.md `rebaser`, design §9). The app's layers above
 * `runImage.topLayer` stay byte-identical, `created` is kept, labels are rewritten. Refused without
 * `force`: `io.buildpacks.rebasable=false`; another OS, architecture, variant, distro name or version;
 * another stack id, unless the new run image's name is the recorded one or a mirror; packages removed.
 * Same stack id and distro need no `force` even under a new tag (lifecycle#1642).
 */
export function rebaseApp(input: RebaseInput): RebaseOutput {
  const { app, runImage, force = false } = input;
  const appLabels = app.config.config?.Labels ?? {};
  const runLabels = runImage.config.config?.Labels ?? {};
  const text = appLabels[LIFECYCLE_METADATA_LABEL];
  if (text === undefined) {
    refuse(`${input.appName} has no ${LIFECYCLE_METADATA_LABEL} label: it was not built by a CNB lifecycle, so its run-image layers are unknown`);
  }
  const metadata = parseLifecycleMetadata(text, 'REBASE');
  if (!metadata.runImage.topLayer) refuse(`${input.appName}: ${LIFECYCLE_METADATA_LABEL} has no runImage.topLayer`);
  const top = app.layers.findIndex((l) => l.diffId === metadata.runImage.topLayer);
  if (top < 0) refuse(`${input.appName}: no layer has the recorded run-image top layer ${metadata.runImage.topLayer}`);

  const problems: string[] = [];
  if (appLabels[REBASABLE_LABEL] === 'false') problems.push(`${input.appName} is labelled ${REBASABLE_LABEL}=false`);
  const target = (c: Image['config']) => `${c.os}/${c.architecture}${c.variant ? `/${c.variant}` : ''}`;
  if (target(app.config) !== target(runImage.config)) problems.push(`the app is ${target(app.config)}, the run image ${target(runImage.config)}`);
  for (const key of ['io.buildpacks.base.distro.name', 'io.buildpacks.base.distro.version']) {
    if ((appLabels[key] ?? '') !== (runLabels[key] ?? '')) problems.push(`${key} is "${appLabels[key] ?? ''}" in the app, "${runLabels[key] ?? ''}" in the run image`);
  }
  const oldId = appLabels['io.buildpacks.base.id'] ?? appLabels['io.buildpacks.stack.id'];
  const newId = runLabels['io.buildpacks.base.id'] ?? runLabels['io.buildpacks.stack.id'];
  const known = [metadata.runImage.image, ...(metadata.runImage.mirrors ?? [])].filter(Boolean);
  const sameStack = oldId !== undefined && oldId === newId;
  const knownName = known.includes(input.runImageName);
  if (!sameStack && !knownName) {
    problems.push(oldId !== undefined && newId !== undefined
      ? `the app's stack is ${oldId}, the run image's ${newId}`
      : `${input.runImageName} is neither the recorded run image (${known.join(', ') || 'none'}) nor of the same stack id`);
  }
  const oldPkgs = packagesOf(appLabels);
  const newPkgs = packagesOf(runLabels);
  const warnings: string[] = [];
  let added: string[] = [];
  let removed: string[] = [];
  if (oldPkgs && newPkgs) {
    added = Object.keys(newPkgs).filter((p) => !(p in oldPkgs)).sort();
    removed = Object.keys(oldPkgs).filter((p) => !(p in newPkgs)).sort();
    if (removed.length > 0) problems.push(`the new run image removes OS packages ${removed.join(', ')}`);
    if (added.length > 0) warnings.push(`the new run image adds OS packages ${added.join(', ')}`);
  } else {
    warnings.push(`no ${RUN_IMAGE_PACKAGES_LABEL} label on ${oldPkgs ? 'the new run image' : 'the app image'}: OS package changes are not checked`);
  }
  if (problems.length > 0) {
    if (!force) refuse(`cannot rebase ${input.appName} onto ${input.runImageName}: ${problems.join('; ')} (--force rebases anyway)`);
    warnings.push(...problems.map((p) => `forced: ${p}`));
  }

  const newTop = runImage.layers.at(-1)?.diffId;
  if (!newTop) refuse(`${input.runImageName} has no layers`);
  const named = knownName ? metadata.runImage.image : input.runImageName;
  const runMeta = {
    topLayer: newTop,
    reference: input.runImageReference,
    image: named,
    ...(knownName && metadata.runImage.mirrors ? { mirrors: metadata.runImage.mirrors } : {}),
  };
  const next: LifecycleMetadata = {
    ...metadata,
    runImage: runMeta,
    ...(metadata.stack ? { stack: { runImage: { image: named, ...(runMeta.mirrors ? { mirrors: runMeta.mirrors } : {}) } } } : {}),
  };
  const labels: Record<string, string | null> = {};
  for (const key of Object.keys(appLabels)) if (isBaseLabel(key)) labels[key] = null;
  for (const [key, value] of Object.entries(runLabels)) if (isBaseLabel(key)) labels[key] = value;
  labels[LIFECYCLE_METADATA_LABEL] = serializeLifecycleMetadata(next);
  const image = withConfig(swapBase(app, metadata.runImage.topLayer as Image['layers'][number]['diffId'], runImage), { labels });
  return { image, metadata: next, addedPackages: added, removedPackages: removed, warnings, appLayers: app.layers.length - top - 1 };
}
