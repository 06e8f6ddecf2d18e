import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LadingError } from '../../registry/oci/index.js';
import {
  loadBuildpackCatalog, parseOrder, parseToml, readTextFile, tomlFields,
  type BuildpackCatalog, type EnvAction, type EnvFile, type GroupEntry, type Order, type TomlFields,
} from '../buildpack/index.js';

/** builder.toml is the operator's input; its problems are CONTENT_INVALID naming the file and key (or line). */
const CODE = 'CONTENT_INVALID' as const;

/** lading's `flavor` key of a `[[run.images]]` entry: which image a build asking `io.lading.run-image` gets. */
export const RUN_IMAGE_FLAVORS = ['base', 'static'] as const;
export type RunImageFlavor = (typeof RUN_IMAGE_FLAVORS)[number];

export interface BuilderRunImage {
  image: string;
  mirrors: string[];
  /** `flavor = "base" | "static"` (a lading key pack ignores); absent on pack's own entries. */
  flavor?: RunImageFlavor;
}

/**
 * A `[[buildpacks]]` entry: a directory (from `uri`), a buildpackage (a `.cnb` file from `uri`, or an image from
 * `image` / a `docker://` or `oci:` uri), or an id/version some other entry must provide.
 */
export interface BuilderBuildpack {
  /** The dotted key in the file, for messages (`buildpacks[2]`). */
  key: string;
  dir?: string;
  /** A `.cnb` file (an OCI layout tar). */
  archive?: string;
  /** A buildpackage image reference as lading reads it (registry, local store name, `oci:DIR[:TAG]`). */
  image?: string;
  id?: string;
  version?: string;
}

/** `[[system.pre.buildpacks]]` / `[[system.post.buildpacks]]` (platform.md `system.toml`). */
export interface BuilderSystem {
  pre: GroupEntry[];
  post: GroupEntry[];
}

/** A builder directory's builder.toml in pack's format (only what a host-mode build uses). */
export interface BuilderConfig {
  file: string;
  /** The directory `uri`s are relative to. */
  dir: string;
  description?: string;
  buildpacks: BuilderBuildpack[];
  order: Order;
  /** `[run] [[run.images]]`, or the legacy `[stack] run-image` + `run-image-mirrors`; first is the default. */
  runImages: BuilderRunImage[];
  /** `[build] image` (or `[stack] build-image`): recorded; host mode does not run buildpacks in it. */
  buildImage?: string;
  /** `[[build.env]]` as operator (build-config) env files: no suffix means `default`. */
  buildEnv: EnvFile[];
  /** System buildpacks merged into every group (absent ids only). */
  system: BuilderSystem;
}

const SUFFIXES: readonly EnvAction[] = ['default', 'override', 'append', 'prepend'];

/** Parses builder.toml text; `dir` is where relative buildpack `uri`s point from. */
export function parseBuilderConfig(text: string, file: string, dir: string): BuilderConfig {
  const root = tomlFields(parseToml(text, file, CODE), file, CODE);
  const buildpacks = root.tables('buildpacks').map((t) => builderBuildpack(t, dir));
  const order = parseOrder(root, { requireVersion: false });
  const run = root.table_('run').tables('images').map((t) => runImage(t));
  const stack = root.table_('stack');
  const legacyRun = stack.optionalString('run-image');
  if (run.length === 0 && legacyRun) run.push({ image: legacyRun, mirrors: stack.stringArray('run-image-mirrors') });
  const build = root.table_('build');
  const buildImage = build.optionalString('image') || stack.optionalString('build-image');
  const description = root.optionalString('description');
  return {
    file,
    dir,
    ...(description ? { description } : {}),
    buildpacks,
    order,
    runImages: run,
    ...(buildImage ? { buildImage } : {}),
    buildEnv: build.tables('env').flatMap((t) => buildEnvFiles(t)),
    system: { pre: systemEntries(root, 'pre'), post: systemEntries(root, 'post') },
  };
}

function systemEntries(root: TomlFields, which: 'pre' | 'post'): GroupEntry[] {
  return root.table_('system').table_(which).tables('buildpacks').map((t) => ({
    id: t.string('id'),
    ...(t.optionalString('version') ? { version: t.optionalString('version')! } : {}),
    optional: t.boolean('optional'),
  }));
}

function runImage(t: TomlFields): BuilderRunImage {
  const flavor = t.optionalString('flavor');
  if (flavor !== undefined && !(RUN_IMAGE_FLAVORS as readonly string[]).includes(flavor)) t.fail(`${t.key('flavor')} "${flavor}" must be one of ${RUN_IMAGE_FLAVORS.join(', ')}`);
  return { image: t.string('image'), mirrors: t.stringArray('mirrors'), ...(flavor ? { flavor: flavor as RunImageFlavor } : {}) };
}

function builderBuildpack(t: TomlFields, dir: string): BuilderBuildpack {
  const uri = t.optionalString('uri');
  const id = t.optionalString('id');
  const version = t.optionalString('version');
  const image = t.optionalString('image');
  const out: BuilderBuildpack = { key: t.where, ...(id ? { id } : {}), ...(version ? { version } : {}) };
  if (image !== undefined && uri !== undefined) t.fail(`${t.where} has both a uri and an image; give one`);
  if (image !== undefined) out.image = image;
  else if (uri) Object.assign(out, uriSource(uri, t, dir));
  else if (!id) t.fail(`${t.where} needs a uri (a buildpack directory or .cnb file), an image, or an id`);
  return out;
}

/** A `uri`: a directory or `.cnb` file (a path relative to the builder dir, or `file://`), or a `docker://` / `oci:` image. */
function uriSource(uri: string, t: TomlFields, dir: string): Pick<BuilderBuildpack, 'dir' | 'archive' | 'image'> {
  if (uri.startsWith('docker://') || uri.startsWith('oci:')) return { image: uri };
  const path = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(path)?.[1];
  if (scheme && scheme.length > 1) {
    throw new LadingError('UNSUPPORTED', `${t.file}: ${t.key('uri')} "${uri}": use a directory, a .cnb file, docker://REF or oci:DIR[:TAG] (no ${scheme}: URIs)`);
  }
  if (/\.(tgz|tar|tar\.gz)$/.test(path)) {
    throw new LadingError('UNSUPPORTED', `${t.file}: ${t.key('uri')} "${uri}": buildpack tarballs are not supported; point to the buildpack directory or a .cnb buildpackage`);
  }
  const full = isAbsolute(path) ? path : resolve(dir, path);
  return path.endsWith('.cnb') ? { archive: full } : { dir: full };
}

function buildEnvFiles(t: TomlFields): EnvFile[] {
  const name = t.string('name');
  if (name.includes('=') || name.includes('/')) t.fail(`${t.key('name')} "${name}" is not a valid variable name`);
  const value = t.optionalString('value') ?? '';
  const suffix = t.optionalString('suffix') ?? 'default';
  if (!(SUFFIXES as readonly string[]).includes(suffix)) t.fail(`${t.key('suffix')} "${suffix}" must be one of ${SUFFIXES.join(', ')}`);
  const execEnv = t.stringArray('exec-env');
  if (execEnv.length > 0 && !execEnv.includes('*') && !execEnv.includes('production')) return [];
  const files: EnvFile[] = [];
  const delim = t.optionalString('delim');
  if (delim !== undefined) files.push({ name, action: 'delim', value: delim, file: `${t.file} ${t.key('delim')}` });
  files.push({ name, action: suffix as EnvAction, value, file: `${t.file} ${t.where}` });
  return files;
}

/** Reads `<dir>/builder.toml` (or the file itself when `path` is a file). */
export async function readBuilderConfig(path: string): Promise<BuilderConfig> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'builder.toml');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new LadingError('NOT_FOUND', `builder ${path}: no such directory (builder images are not supported yet; pass a directory with a builder.toml)`, { cause: err });
    }
    throw new LadingError('IO', `builder ${path}: ${(err as Error).message}`, { cause: err });
  }
  const text = await readTextFile(file);
  return parseBuilderConfig(text, file, resolve(file, '..'));
}

/**
 * The builder's buildpacks as a catalog (composite buildpacks resolve through it), plus `extraDirs` (`-b DIR`).
 * An `id` entry without a `uri` must be provided by one of the directories; the order must resolve.
 */
export async function loadBuilderCatalog(config: BuilderConfig, extraDirs: readonly string[] = []): Promise<BuildpackCatalog> {
  for (const b of config.buildpacks) {
    if (b.archive || b.image) {
      throw new LadingError('UNSUPPORTED', `${config.file}: ${b.key}: a buildpackage (${b.archive ?? b.image}) in a builder directory: make a builder image with \`lading builder create\` and build with -B IMAGE`);
    }
    if (b.dir && !(await stat(b.dir).then(() => true, () => false))) {
      throw new LadingError('NOT_FOUND', `${config.file}: ${b.key}.uri: buildpack directory ${b.dir} does not exist`);
    }
  }
  const dirs = [...new Set([...config.buildpacks.flatMap((b) => (b.dir ? [resolve(b.dir)] : [])), ...extraDirs.map((d) => resolve(d))])];
  const catalog = await loadBuildpackCatalog(dirs);
  for (const b of config.buildpacks) {
    if (b.dir || !b.id) continue;
    try {
      catalog.findBuildpack(b.id, b.version);
    } catch (err) {
      throw new LadingError('NOT_FOUND', `${config.file}: ${b.key}: ${(err as Error).message} (buildpacks by id must come from a uri directory)`, { cause: err });
    }
  }
  config.order.forEach((group, i) =>
    group.forEach((entry, j) => {
      try {
        catalog.findBuildpack(entry.id, entry.version);
      } catch (err) {
        throw new LadingError('NOT_FOUND', `${config.file}: order[${i}].group[${j}]: ${(err as Error).message}`, { cause: err });
      }
    }),
  );
  return catalog;
}
