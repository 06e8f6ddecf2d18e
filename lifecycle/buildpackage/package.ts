import { resolve } from 'node:path';
import { appendLayers, emptyImage, withConfig, NORMALIZED_TIME } from '../../registry/mutate/index.js';
import { LadingError, type ContentSource, type Image, type Platform } from '../../registry/oci/index.js';
import { openSource, type OpenOptions } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import { parseToml, readBuildpackDescriptor, readTextFile, tomlFields } from '../buildpack/index.js';
import {
  BUILDPACK_LAYERS_LABEL, BUILDPACKAGE_METADATA_LABEL, labelText, mergeModules, moduleFromDir, modulesFromDir, modulesFromImage, readImage,
  type BuildpackageMetadata, type BuildpackLayers, type BuildpackModule,
} from '../builder-image/index.js';
import type { FileLayer } from '../../registry/layers/index.js';

/** pack's package.toml: `[buildpack] uri` and `[[dependencies]] uri | image`. */
export interface PackageConfig {
  file?: string;
  /** The entrypoint buildpack's directory. */
  buildpack: string;
  dependencies: { key: string; dir?: string; archive?: string; image?: string }[];
}

/** Reads `package.toml` (pack's format); paths are relative to its directory. */
export async function readPackageConfig(file: string): Promise<PackageConfig> {
  const text = await readTextFile(file);
  const root = tomlFields(parseToml(text, file, 'CONTENT_INVALID'), file, 'CONTENT_INVALID');
  const dir = resolve(file, '..');
  const local = (uri: string) => resolve(dir, uri.replace(/^file:\/\//, ''));
  const buildpack = root.table_('buildpack').optionalString('uri') ?? '.';
  const dependencies = root.tables('dependencies').map((t) => {
    const uri = t.optionalString('uri');
    const image = t.optionalString('image');
    if (image) return { key: t.where, image };
    if (!uri) return t.fail(`${t.where} needs a uri or an image`);
    if (uri.startsWith('docker://') || uri.startsWith('oci:')) return { key: t.where, image: uri };
    if (/^[a-z][a-z0-9+.-]+:/i.test(uri) && !uri.startsWith('file://')) t.fail(`${t.key('uri')} "${uri}": use a directory, a .cnb file, docker://REF or oci:DIR[:TAG]`);
    return uri.endsWith('.cnb') ? { key: t.where, archive: local(uri) } : { key: t.where, dir: local(uri) };
  });
  return { file, buildpack: local(buildpack), dependencies };
}

export interface PackageInput {
  config: PackageConfig;
  platform: Platform;
  open?: OpenOptions;
  tempDir?: string;
}

export interface Buildpackage {
  image: Image;
  entry: BuildpackModule;
  modules: BuildpackModule[];
  /** Disposes the layers written and closes the dependency sources. Call once the image is written. */
  dispose(): Promise<void>;
}

/**
 * A buildpackage (distribution.md "Buildpackage"): one layer per buildpack (`/cnb/buildpacks/<id>/<version>/`),
 * the entrypoint buildpack and its dependencies, labels `io.buildpacks.buildpackage.metadata` and
 * `io.buildpacks.buildpack.layers`. A composite's order must be satisfied by the package itself.
 */
export async function packageBuildpack(input: PackageInput): Promise<Buildpackage> {
  const { config } = input;
  const what = config.file ?? config.buildpack;
  const created: FileLayer[] = [];
  const sources: ContentSource[] = [];
  const dispose = async () => {
    await Promise.all([...created.map((l) => l.dispose()), ...sources.map((s) => s.close())].map((p) => p.catch(() => undefined)));
  };
  const opts = { created, ...(input.tempDir ? { tempDir: input.tempDir } : {}) };
  try {
    const descriptor = await readBuildpackDescriptor(config.buildpack);
    const entry = await moduleFromDir(descriptor, opts);
    const deps: BuildpackModule[] = [];
    for (const d of config.dependencies) {
      if (d.dir) deps.push(...(await modulesFromDir(d.dir, opts)));
      else {
        const ref = d.archive ? parseReference(`oci-archive:${d.archive}`) : parseReference(d.image!);
        const source = await openSource(ref, input.open ?? {});
        sources.push(source);
        deps.push(...modulesFromImage(await readImage(source, d.archive ?? d.image!), `${what}: ${d.key}`));
      }
    }
    const modules = mergeModules([entry, ...deps], what);
    checkComposites(modules, what);
    const layers: BuildpackLayers = {};
    for (const m of modules) (layers[m.id] ??= {})[m.version] = m.info;
    const metadata: BuildpackageMetadata = {
      id: entry.id,
      version: entry.version,
      ...(entry.info.homepage ? { homepage: entry.info.homepage } : {}),
      // distribution.md asks for at least one stack; "*" (any) unless the buildpack names its own.
      stacks: descriptor.stacks.length > 0 ? descriptor.stacks.map((s) => ({ id: s.id, ...(s.mixins.length > 0 ? { mixins: s.mixins } : {}) })) : [{ id: '*' }],
      ...(entry.info.targets ? { targets: entry.info.targets } : {}),
    };
    let image = appendLayers(emptyImage(input.platform, NORMALIZED_TIME), ...modules.map((m) => ({ layer: m.layer, history: { created_by: `lading buildpack package: ${m.id}@${m.version}` } })));
    image = withConfig(image, { labels: { [BUILDPACKAGE_METADATA_LABEL]: labelText(metadata), [BUILDPACK_LAYERS_LABEL]: labelText(layers) } });
    return { image, entry, modules, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** Every buildpack a composite's order names must be in the package (with that version). */
function checkComposites(modules: readonly BuildpackModule[], what: string): void {
  for (const m of modules) {
    (m.info.order ?? []).forEach((g, i) => g.group.forEach((e, j) => {
      if (!modules.some((x) => x.id === e.id && (!e.version || x.version === e.version))) {
        throw new LadingError('NOT_FOUND', `${what}: composite ${m.id}@${m.version} order[${i}].group[${j}] needs ${e.id}${e.version ? `@${e.version}` : ''}, which the package does not have (add it under [[dependencies]] in package.toml)`);
      }
    }));
  }
}

