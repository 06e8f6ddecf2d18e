import semver from 'semver';
import { stringify } from 'smol-toml';
import { createLayer, type FileLayer, type LayerEntry } from '../../registry/layers/index.js';
import { appendLayers, withConfig, withCreated } from '../../registry/mutate/index.js';
import { LadingError, type ContentSource, type Image, type Layer } from '../../registry/oci/index.js';
import { openSource, type OpenOptions } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import { targetSatisfies, type GroupEntry, type Order } from '../buildpack/index.js';
import type { BuilderConfig } from '../platform/index.js';
import {
  BUILDER_METADATA_LABEL, BUILDPACK_LAYERS_LABEL, BUILDPACK_ORDER_LABEL, BUILDPACK_SYSTEM_LABEL, LADING_BUILDER_LABEL,
  labelText, orderLabel, type BuilderMetadata, type BuildpackLayers, type LadingBuilderMetadata,
} from './labels.js';
import { mergeModules, modulesFromDir, modulesFromImage, readImage, type BuildpackModule } from './modules.js';
import { moduleNeedsNode, nodeLayerEntries } from './node-layer.js';

/** Buildpack and Platform API versions lading's lifecycle implements (docs/lifecycle.md). */
const BUILDPACK_APIS = ['0.10', '0.11', '0.12'];
const PLATFORM_APIS = ['0.12', '0.13', '0.14', '0.15'];

export interface BuildpackSources {
  modules: BuildpackModule[];
  /** Layers written here; dispose them once the builder is written. */
  created: FileLayer[];
  /** Disposes the layers and closes the buildpackage sources (an unpacked .cnb is removed). Call when done. */
  dispose(): Promise<void>;
}

/**
 * Every buildpack a builder.toml names: directories packed into layers, `.cnb` files and buildpackage images
 * read for their layers as they are (same diffIDs). An `id`/`version` entry must be provided by another entry.
 */
export async function collectBuildpacks(config: BuilderConfig, options: OpenOptions & { tempDir?: string } = {}): Promise<BuildpackSources> {
  const created: FileLayer[] = [];
  const sources: ContentSource[] = [];
  const all: BuildpackModule[] = [];
  const dispose = async () => {
    await Promise.all([...created.map((l) => l.dispose()), ...sources.map((s) => s.close())].map((p) => p.catch(() => undefined)));
  };
  try {
    for (const b of config.buildpacks) {
      const where = `${config.file}: ${b.key}`;
      if (b.dir) {
        all.push(...(await modulesFromDir(b.dir, { created, ...(options.tempDir ? { tempDir: options.tempDir } : {}) }).catch((err: unknown) => rethrow(err, where))));
      } else if (b.archive || b.image) {
        const ref = b.archive ? parseReference(`oci-archive:${b.archive}`) : parseReference(b.image!);
        const what = b.archive ?? b.image!;
        const source = await openSource(ref, options).catch((err: unknown) => rethrow(err, where));
        // Its layers are read through the source until the builder is written: closed by dispose().
        sources.push(source);
        const image = await readImage(source, what).catch((err: unknown) => rethrow(err, where));
        all.push(...modulesFromImage(image, `${where} (${what})`));
      }
    }
    const modules = mergeModules(all, config.file);
    for (const b of config.buildpacks) {
      if (!b.id) continue;
      const match = modules.filter((m) => m.id === b.id && (!b.version || m.version === b.version));
      if (match.length === 0) {
        const have = modules.filter((m) => m.id === b.id).map((m) => m.version);
        throw new LadingError('NOT_FOUND', `${config.file}: ${b.key}: buildpack ${b.id}${b.version ? `@${b.version}` : ''} is not provided by any [[buildpacks]] entry` +
          (have.length > 0 ? ` (versions there: ${have.join(', ')})` : ''));
      }
    }
    return { modules, created, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

function rethrow(err: unknown, where: string): never {
  if (err instanceof LadingError) throw new LadingError(err.code, err.message.startsWith(where) ? err.message : `${where}: ${err.message}`, { cause: err });
  throw err;
}

export interface CreateBuilderInput {
  config: BuilderConfig;
  /** The `[build] image`, read. */
  buildImage: Image;
  buildImageName: string;
  modules: readonly BuildpackModule[];
  /** A node executable for the node layer (default: the node running lading); `false` for none. */
  node?: string | false;
  /** lading's version, for `createdBy`. */
  version: string;
  /** `[lading] isolation = "sandbox"`: builds with this builder always run sandboxed. */
  isolation?: 'sandbox';
  created?: string;
  tempDir?: string;
}

export interface CreatedBuilder {
  image: Image;
  /** The order as written to /cnb/order.toml (versions resolved). */
  order: Order;
  /** Layers written for this builder (dispose after writing the image). */
  created: FileLayer[];
  node: boolean;
}

/**
 * A builder image (pack's layout): the build image, one layer per buildpack version (sorted by id and
 * version, so the same inputs give the same digest), a node layer when a buildpack needs node, and a config
 * layer with /cnb/order.toml, /cnb/run.toml, /cnb/stack.toml, /cnb/system.toml, /cnb/build-config/env and the
 * /workspace, /layers, /platform mount points; labels as pack writes them.
 */
export async function createBuilder(input: CreateBuilderInput): Promise<CreatedBuilder> {
  const { config, buildImage } = input;
  const user = stackUser(buildImage, input.buildImageName);
  const order = resolveOrder(config.order, input.modules, config.file, 'order');
  const system = { pre: resolveOrder([config.system.pre], input.modules, config.file, 'system.pre')[0] ?? [], post: resolveOrder([config.system.post], input.modules, config.file, 'system.post')[0] ?? [] };
  if (order.length === 0) throw new LadingError('CONTENT_INVALID', `${config.file}: has no [[order]]`);
  checkTargets(input.modules, buildImage, input.buildImageName, config.file);
  if (config.runImages.length === 0) throw new LadingError('CONTENT_INVALID', `${config.file}: has no [[run.images]] (or [stack] run-image)`);
  const created: FileLayer[] = [];
  try {
    const wantNode = input.node !== false && (await anyNeedsNode(input.modules));
    let nodeLayer: FileLayer | undefined;
    if (wantNode) {
      const exe = input.node || process.execPath;
      nodeLayer = await createLayer(
        { entries: await nodeLayerEntries(exe) },
        { uid: 0, gid: 0, ...(input.tempDir ? { tempDir: input.tempDir } : {}) },
      );
      created.push(nodeLayer);
    }
    const configLayer = await createLayer({ entries: configEntries(config, order, system, user) }, { uid: 0, gid: 0, ...(input.tempDir ? { tempDir: input.tempDir } : {}) });
    created.push(configLayer);
    const additions: { layer: Layer; history: { created_by: string } }[] = input.modules.map((m) => ({ layer: m.layer, history: { created_by: `lading builder create: buildpack ${m.id}@${m.version}` } }));
    if (nodeLayer) additions.push({ layer: nodeLayer, history: { created_by: 'lading builder create: node for buildpacks written in JavaScript' } });
    additions.push({ layer: configLayer, history: { created_by: 'lading builder create: order, run images, build env' } });
    const layersLabel: BuildpackLayers = {};
    for (const m of input.modules) (layersLabel[m.id] ??= {})[m.version] = m.info;
    const images = config.runImages.map((r) => ({ image: r.image, ...(r.mirrors.length > 0 ? { mirrors: r.mirrors } : {}), ...(r.flavor ? { flavor: r.flavor } : {}) }));
    const first = config.runImages[0]!;
    const metadata: BuilderMetadata = {
      description: config.description ?? '',
      buildpacks: input.modules.map((m) => ({ id: m.id, version: m.version, ...(m.info.homepage ? { homepage: m.info.homepage } : {}) })),
      stack: { runImage: { image: first.image, ...(first.mirrors.length > 0 ? { mirrors: first.mirrors } : {}) } },
      images,
      lifecycle: {
        version: input.version,
        api: { buildpack: BUILDPACK_APIS.at(-1)!, platform: PLATFORM_APIS.at(-1)! },
        apis: { buildpack: { deprecated: [], supported: BUILDPACK_APIS }, platform: { deprecated: [], supported: PLATFORM_APIS } },
      },
      createdBy: { name: 'lading', version: input.version },
    };
    const lading: LadingBuilderMetadata = {
      configLayer: configLayer.diffId,
      ...(nodeLayer ? { nodeLayer: nodeLayer.diffId } : {}),
      ...(input.isolation ? { isolation: input.isolation } : {}),
      user,
    };
    let image = appendLayers(buildImage, ...additions);
    image = withConfig(image, {
      workingDir: '/layers',
      labels: {
        [BUILDER_METADATA_LABEL]: labelText(metadata),
        [BUILDPACK_LAYERS_LABEL]: labelText(layersLabel),
        [BUILDPACK_ORDER_LABEL]: labelText(orderLabel(order)),
        [BUILDPACK_SYSTEM_LABEL]: system.pre.length + system.post.length > 0 ? labelText({ pre: { buildpacks: system.pre }, post: { buildpacks: system.post } }) : null,
        [LADING_BUILDER_LABEL]: labelText(lading),
      },
    });
    image = withCreated(image, input.created ?? '1980-01-01T00:00:01Z');
    return { image, order, created, node: nodeLayer !== undefined };
  } catch (err) {
    await Promise.all(created.map((l) => l.dispose().catch(() => undefined)));
    throw err;
  }
}

/** CNB_USER_ID / CNB_GROUP_ID of the build image (platform.md "Build Image": required). */
export function stackUser(image: Image, name: string): { uid: number; gid: number } {
  const env = image.config.config?.Env ?? [];
  const get = (key: string) => {
    const v = env.find((e) => e.startsWith(`${key}=`))?.slice(key.length + 1);
    if (v === undefined) throw new LadingError('CONTENT_INVALID', `build image ${name} has no ${key} in its config Env (platform.md "Build Image" requires CNB_USER_ID and CNB_GROUP_ID)`);
    if (!/^\d+$/.test(v)) throw new LadingError('CONTENT_INVALID', `build image ${name}: ${key}=${v} is not a numeric id`);
    return Number(v);
  };
  return { uid: get('CNB_USER_ID'), gid: get('CNB_GROUP_ID') };
}

/**
 * The order with every version resolved against the builder's buildpacks (an entry without a version takes
 * the highest); composite buildpacks' orders must resolve too. Errors name the file and the order key.
 */
export function resolveOrder(order: Order, modules: readonly BuildpackModule[], file: string, key: string): Order {
  const find = (e: GroupEntry, where: string) => {
    const versions = modules.filter((m) => m.id === e.id);
    if (versions.length === 0) {
      throw new LadingError('NOT_FOUND', `${file}: ${where}: no buildpack has id ${e.id} (the builder has ${[...new Set(modules.map((m) => m.id))].join(', ') || 'no buildpacks'})`);
    }
    const m = e.version ? versions.find((v) => v.version === e.version) : [...versions].sort((a, b) => semver.rcompare(semver.coerce(a.version) ?? '0.0.0', semver.coerce(b.version) ?? '0.0.0'))[0];
    if (!m) throw new LadingError('NOT_FOUND', `${file}: ${where}: buildpack ${e.id}@${e.version} is not in the builder (versions: ${versions.map((v) => v.version).join(', ')})`);
    return m;
  };
  const seen = new Set<string>();
  const checkComposite = (m: BuildpackModule, where: string) => {
    const key2 = `${m.id}@${m.version}`;
    if (seen.has(key2)) return;
    seen.add(key2);
    (m.info.order ?? []).forEach((g, i) => g.group.forEach((e, j) => checkComposite(find({ id: e.id, version: e.version, optional: false }, `${where} → ${key2} order[${i}].group[${j}]`), where)));
  };
  return order.map((group, i) =>
    group.map((e, j) => {
      const where = key === 'order' ? `order[${i}].group[${j}]` : `${key}.buildpacks[${j}]`;
      const m = find(e, where);
      checkComposite(m, where);
      return { ...e, version: m.version };
    }),
  );
}

/** The os/arch/variant/distro of an image, as buildpacks see it (platform.md "Target Data"). */
function imageTarget(image: Image): { os: string; arch: string; variant?: string; distro?: { name: string; version: string } } {
  const labels = image.config.config?.Labels ?? {};
  const distroName = labels['io.buildpacks.base.distro.name'];
  return {
    os: image.config.os,
    arch: image.config.architecture,
    ...(image.config.variant ? { variant: image.config.variant } : {}),
    ...(distroName ? { distro: { name: distroName, version: labels['io.buildpacks.base.distro.version'] ?? '' } } : {}),
  };
}

/**
 * A run image must run what was built in the build image: same os, architecture, variant and distro
 * (platform.md "Run Image"); CONTENT_INVALID naming both images otherwise.
 */
export function checkRunImageTarget(run: Image, runName: string, build: Image, buildName: string, file: string): void {
  const a = imageTarget(build);
  const b = imageTarget(run);
  const show = (t: typeof a) => `${t.os}/${t.arch}${t.variant ? `/${t.variant}` : ''}${t.distro ? ` ${t.distro.name} ${t.distro.version}` : ''}`;
  if (show(a) !== show(b)) {
    throw new LadingError('CONTENT_INVALID', `${file}: run image ${runName} is ${show(b)}, but the build image ${buildName} is ${show(a)}: a builder's run images must match its build image`);
  }
}

/** Every buildpack must be able to run on the build image (buildpack.md "Targets"; deprecated stacks by id). */
function checkTargets(modules: readonly BuildpackModule[], image: Image, name: string, file: string): void {
  const labels = image.config.config?.Labels ?? {};
  const have = imageTarget(image);
  const stackId = labels['io.buildpacks.stack.id'] ?? labels['io.buildpacks.base.id'];
  for (const m of modules) {
    if (m.info.order) continue;
    const targets = m.info.targets ?? [];
    if (targets.length > 0) {
      const ok = targets.some((t) => targetSatisfies({ ...t, distros: (t.distros ?? []).map((d) => ({ ...d })) } as never, have));
      if (!ok) {
        const show = targets.map((t) => `${t.os ?? '*'}/${t.arch ?? '*'}${(t.distros ?? []).map((d) => ` ${d.name ?? ''} ${d.version ?? ''}`.trimEnd()).join(',')}`).join('; ');
        throw new LadingError('CONTENT_INVALID', `${file}: buildpack ${m.id}@${m.version} (${m.origin}) runs on ${show}, but the build image ${name} is ${have.os}/${have.arch}${have.distro ? ` ${have.distro.name} ${have.distro.version}` : ''}`);
      }
    } else if (m.info.stacks && m.info.stacks.length > 0 && !m.info.stacks.some((s) => s.id === '*' || s.id === stackId)) {
      throw new LadingError('CONTENT_INVALID', `${file}: buildpack ${m.id}@${m.version} (${m.origin}) supports stacks ${m.info.stacks.map((s) => s.id).join(', ')}, but the build image ${name} is ${stackId ? `stack ${stackId}` : 'not labelled with a stack id'}`);
    }
  }
}

async function anyNeedsNode(modules: readonly BuildpackModule[]): Promise<boolean> {
  for (const m of modules) if (await moduleNeedsNode(m)) return true;
  return false;
}

/** The config layer's files: TOML by smol-toml, entries sorted by the layer writer. */
function configEntries(config: BuilderConfig, order: Order, system: { pre: GroupEntry[]; post: GroupEntry[] }, user: { uid: number; gid: number }): LayerEntry[] {
  const root = { uid: 0, gid: 0 };
  const group = (g: readonly GroupEntry[]) => g.map((e) => ({ id: e.id, version: e.version ?? '', ...(e.optional ? { optional: true } : {}) }));
  const run = config.runImages.map((r) => ({ image: r.image, ...(r.mirrors.length > 0 ? { mirrors: r.mirrors } : {}) }));
  const first = config.runImages[0]!;
  const entries: LayerEntry[] = [
    { type: 'dir', path: '/cnb', ...root },
    { type: 'file', path: '/cnb/order.toml', content: stringify({ order: order.map((g) => ({ group: group(g) })) }), ...root },
    { type: 'file', path: '/cnb/run.toml', content: stringify({ images: run }), ...root },
    { type: 'file', path: '/cnb/stack.toml', content: stringify({ 'run-image': { image: first.image, ...(first.mirrors.length > 0 ? { mirrors: first.mirrors } : {}) } }), ...root },
    { type: 'dir', path: '/cnb/build-config', ...root },
    { type: 'dir', path: '/cnb/build-config/env', ...root },
    { type: 'dir', path: '/workspace', mode: 0o755, uid: user.uid, gid: user.gid },
    { type: 'dir', path: '/layers', mode: 0o755, uid: user.uid, gid: user.gid },
    { type: 'dir', path: '/platform', ...root },
    { type: 'dir', path: '/platform/env', ...root },
  ];
  if (system.pre.length + system.post.length > 0) {
    entries.push({ type: 'file', path: '/cnb/system.toml', content: stringify({ system: { pre: { buildpacks: group(system.pre) }, post: { buildpacks: group(system.post) } } }), ...root });
  }
  const names = new Set<string>();
  for (const e of config.buildEnv) {
    const name = `${e.name}.${e.action}`;
    if (names.has(name)) throw new LadingError('CONTENT_INVALID', `${config.file}: [[build.env]] sets ${e.name} (${e.action}) twice`);
    names.add(name);
    entries.push({ type: 'file', path: `/cnb/build-config/env/${name}`, content: e.value, ...root });
  }
  return entries;
}

