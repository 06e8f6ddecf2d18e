import { LadingError, parseJson, stableStringify } from '../../registry/oci/index.js';
import type { BuildpackDescriptor, GroupEntry, Order, Target } from '../buildpack/index.js';

/** Labels pack writes on builders and buildpackages (pack `internal/builder/metadata.go`, `pkg/dist/dist.go`). */
export const BUILDER_METADATA_LABEL = 'io.buildpacks.builder.metadata';
export const BUILDPACK_LAYERS_LABEL = 'io.buildpacks.buildpack.layers';
export const BUILDPACK_ORDER_LABEL = 'io.buildpacks.buildpack.order';
export const BUILDPACK_SYSTEM_LABEL = 'io.buildpacks.buildpack.system';
export const BUILDPACKAGE_METADATA_LABEL = 'io.buildpacks.buildpackage.metadata';
/** lading's own keys on a builder: its config layer, the node layer, the isolation it asks for. */
export const LADING_BUILDER_LABEL = 'io.lading.builder';

/** One entry of `io.buildpacks.buildpack.layers` (pack's ModuleLayerInfo). */
export interface ModuleLayerInfo {
  api: string;
  stacks?: { id: string; mixins?: string[] }[];
  targets?: { os?: string; arch?: string; variant?: string; distros?: { name?: string; version?: string }[] }[];
  order?: { group: { id: string; version: string; optional?: boolean }[] }[];
  layerDiffID: string;
  homepage?: string;
  name?: string;
}

/** `{"<id>": {"<version>": ModuleLayerInfo}}` */
export type BuildpackLayers = Record<string, Record<string, ModuleLayerInfo>>;

export interface BuildpackageMetadata {
  id: string;
  version: string;
  homepage?: string;
  stacks?: { id: string; mixins?: string[] }[];
  targets?: ModuleLayerInfo['targets'];
}

export interface BuilderImageRef {
  image: string;
  mirrors?: string[];
  /** lading's run-image flavor (`base` | `static`); pack ignores the key. */
  flavor?: string;
}

/** `io.buildpacks.builder.metadata`, the keys pack writes. */
export interface BuilderMetadata {
  description: string;
  buildpacks: { id: string; version: string; homepage?: string }[];
  stack: { runImage: { image: string; mirrors?: string[] } };
  images: BuilderImageRef[];
  lifecycle: {
    version: string;
    api: { buildpack: string; platform: string };
    apis: { buildpack: { deprecated: string[]; supported: string[] }; platform: { deprecated: string[]; supported: string[] } };
  };
  createdBy: { name: string; version: string };
}

/** `io.lading.builder`: where a builder keeps what pack's labels have no place for. */
export interface LadingBuilderMetadata {
  /** diffID of the layer holding /cnb/order.toml, run.toml and /cnb/build-config. */
  configLayer: string;
  /** diffID of the node layer (`/cnb/node/bin/node`), when the builder has one. */
  nodeLayer?: string;
  /** `sandbox`: builds with this builder always run buildpacks in the build image. */
  isolation?: 'sandbox';
  /** The stack user builds run as (CNB_USER_ID / CNB_GROUP_ID of the build image). */
  user: { uid: number; gid: number };
}

/** The order label: `[{"group":[{"id","version","optional"?}]}]`, as pack writes it. */
export function orderLabel(order: Order): { group: { id: string; version?: string; optional?: boolean }[] }[] {
  return order.map((group) => ({ group: group.map(groupEntryJson) }));
}

function groupEntryJson(e: GroupEntry): { id: string; version?: string; optional?: boolean } {
  return { id: e.id, ...(e.version ? { version: e.version } : {}), ...(e.optional ? { optional: true } : {}) };
}

export function orderFromLabel(value: unknown, what: string): Order {
  if (!Array.isArray(value)) throw new LadingError('CONTENT_INVALID', `${what}: not an array of groups`);
  return value.map((g: { group?: unknown }, i) => {
    if (!g || !Array.isArray(g.group)) throw new LadingError('CONTENT_INVALID', `${what}[${i}]: has no group`);
    return (g.group as { id?: unknown; version?: unknown; optional?: unknown }[]).map((e, j) => {
      if (typeof e?.id !== 'string') throw new LadingError('CONTENT_INVALID', `${what}[${i}].group[${j}]: has no id`);
      return { id: e.id, ...(typeof e.version === 'string' && e.version ? { version: e.version } : {}), optional: e.optional === true };
    });
  });
}

/** A buildpack's entry of `io.buildpacks.buildpack.layers`. */
export function moduleLayerInfo(bp: BuildpackDescriptor, diffId: string): ModuleLayerInfo {
  const info: ModuleLayerInfo = { api: bp.api, layerDiffID: diffId };
  if (bp.stacks.length > 0) info.stacks = bp.stacks.map((s) => ({ id: s.id, ...(s.mixins.length > 0 ? { mixins: s.mixins } : {}) }));
  if (bp.targets.length > 0) info.targets = bp.targets.map(targetJson);
  if (bp.kind === 'composite') info.order = bp.order.map((g) => ({ group: g.map((e) => ({ id: e.id, version: e.version ?? '', ...(e.optional ? { optional: true } : {}) })) }));
  if (bp.info.homepage) info.homepage = bp.info.homepage;
  if (bp.info.name) info.name = bp.info.name;
  return info;
}

function targetJson(t: Target): NonNullable<ModuleLayerInfo['targets']>[number] {
  return {
    ...(t.os ? { os: t.os } : {}),
    ...(t.arch ? { arch: t.arch } : {}),
    ...(t.variant ? { variant: t.variant } : {}),
    ...(t.distros.length > 0 ? { distros: t.distros.map((d) => ({ ...(d.name ? { name: d.name } : {}), ...(d.version ? { version: d.version } : {}) })) } : {}),
  };
}

/** Reads a JSON label, or undefined when absent; malformed JSON is CONTENT_INVALID naming the image and label. */
export function jsonLabel<T>(labels: Record<string, string> | undefined, name: string, image: string): T | undefined {
  const text = labels?.[name];
  if (text === undefined) return undefined;
  try {
    return parseJson(text, `${image}: label ${name}`) as T;
  } catch (err) {
    throw new LadingError('CONTENT_INVALID', `${image}: label ${name} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

export function labelText(value: unknown): string {
  return stableStringify(value);
}
