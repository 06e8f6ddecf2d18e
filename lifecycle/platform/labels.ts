import { LadingError, type ErrorCode } from '../../registry/oci/index.js';

/**
 * The `io.buildpacks.*` labels of an app image (platform.md "Labels"), with the key names and key order the
 * Go lifecycle serializes (its struct field order; map keys sorted; Go's HTML-safe string escaping), so that
 * `pack inspect`, `pack rebase` and `pack sbom download` read lading images, and equal inputs give equal bytes.
 */
export const LIFECYCLE_METADATA_LABEL = 'io.buildpacks.lifecycle.metadata';
export const BUILD_METADATA_LABEL = 'io.buildpacks.build.metadata';
export const PROJECT_METADATA_LABEL = 'io.buildpacks.project.metadata';
export const REBASABLE_LABEL = 'io.buildpacks.rebasable';
export const EXEC_ENV_LABEL = 'io.buildpacks.exec-env';
/** Cache images (notes/cnb.md §1.1): `{"sbom":…,"buildpacks":[…]}`. */
export const CACHE_METADATA_LABEL = 'io.buildpacks.lifecycle.cache.metadata';

/** A free-form table (TOML `[metadata]`, JSON `data`). */
export type MetadataTable = Record<string, unknown>;

/** `{"sha": "<diffID>"}`; an empty string when the layer does not exist (as the Go lifecycle writes it). */
export interface ShaRef {
  sha: string;
}

/** A launch layer entry: its diffID plus the `<layer>.toml` (data = `[metadata]`, booleans = `[types]`). */
export interface LayerMetadataEntry {
  sha: string;
  data: MetadataTable;
  build: boolean;
  launch: boolean;
  cache: boolean;
}

export interface BuildpackLayersMetadata {
  /** The buildpack id (serialized as `key`). */
  key: string;
  version: string;
  layers: Record<string, LayerMetadataEntry>;
  /** store.toml `[metadata]`, when the buildpack wrote one. */
  store?: { metadata: MetadataTable };
}

export interface RunImageForRebase {
  topLayer: string;
  reference: string;
  image: string;
  mirrors?: string[];
}

/** `io.buildpacks.lifecycle.metadata`. */
export interface LifecycleMetadata {
  app: ShaRef[];
  sbom?: ShaRef;
  buildpacks: BuildpackLayersMetadata[];
  config: ShaRef;
  launcher: ShaRef;
  processTypes: ShaRef;
  runImage: RunImageForRebase;
  /** Deprecated mirror of runImage.image/mirrors, still always written for old rebasers. */
  stack?: { runImage: { image: string; mirrors?: string[] } };
}

export interface BuildMetadataBuildpack {
  id: string;
  version: string;
  homepage?: string;
  optional?: boolean;
}

export interface BuildMetadataProcess {
  type: string;
  command: string[];
  args: string[];
  direct: boolean;
  default?: boolean;
  buildpackID: string;
  workingDir?: string;
  execEnv?: string[];
}

/** `io.buildpacks.build.metadata`. */
export interface BuildMetadata {
  buildpacks: BuildMetadataBuildpack[];
  extensions?: BuildMetadataBuildpack[];
  launcher: { version: string; source: { git: { repository: string; commit: string } } };
  processes: BuildMetadataProcess[];
  defaultProcessType?: string;
}

/** `io.buildpacks.project.metadata` (project-metadata.toml as JSON). */
export interface ProjectMetadata {
  source?: { type: string; version: MetadataTable; metadata: MetadataTable };
}

/** `io.buildpacks.lifecycle.cache.metadata`. */
export interface CacheMetadata {
  sbom?: ShaRef;
  buildpacks: BuildpackLayersMetadata[];
}

/** A map: keys sorted, as Go's encoding/json writes maps (structs keep field order). */
class GoMap {
  /** `freeFormValues`: values are free-form data (maps all the way down) rather than structs. */
  constructor(readonly entries: Record<string, unknown>, readonly freeFormValues = true) {}
}

/** Go's json.Marshal: compact, HTML-safe escapes, U+2028/2029 escaped; Dates as RFC 3339. */
export function goJson(value: unknown): string {
  return toJson(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function toJson(v: unknown): string {
  if (v instanceof GoMap) {
    const keys = Object.keys(v.entries).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${toJson(v.freeFormValues ? freeForm(v.entries[k]) : v.entries[k])}`).join(',')}}`;
  }
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v instanceof Date) return JSON.stringify(v.toISOString().replace('.000Z', 'Z'));
  if (v !== null && typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) if (x !== undefined) parts.push(`${JSON.stringify(k)}:${toJson(x)}`);
    return `{${parts.join(',')}}`;
  }
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v ?? null);
}

/** Free-form data (TOML tables) becomes Go maps at every depth. */
function freeForm(v: unknown): unknown {
  if (v instanceof GoMap || v instanceof Date) return v;
  if (Array.isArray(v)) return v.map(freeForm);
  if (v !== null && typeof v === 'object') return new GoMap(v as Record<string, unknown>);
  return v;
}

const sha = (r: ShaRef | undefined) => ({ sha: r?.sha ?? '' });

function buildpackLayersJson(bp: BuildpackLayersMetadata) {
  const layers: Record<string, unknown> = {};
  for (const [name, l] of Object.entries(bp.layers)) {
    layers[name] = { sha: l.sha, data: freeForm(l.data), build: l.build, launch: l.launch, cache: l.cache };
  }
  return { key: bp.key, version: bp.version, layers: new GoMap(layers, false), store: bp.store ? { metadata: freeForm(bp.store.metadata) } : undefined };
}

export function serializeLifecycleMetadata(m: LifecycleMetadata): string {
  const runImage = { topLayer: m.runImage.topLayer, reference: m.runImage.reference, image: m.runImage.image, mirrors: nonEmpty(m.runImage.mirrors) };
  return goJson({
    app: m.app.map(sha),
    sbom: m.sbom ? sha(m.sbom) : undefined,
    buildpacks: m.buildpacks.map(buildpackLayersJson),
    config: sha(m.config),
    launcher: sha(m.launcher),
    'process-types': sha(m.processTypes),
    runImage,
    stack: m.stack ? { runImage: { image: m.stack.runImage.image, mirrors: nonEmpty(m.stack.runImage.mirrors) } } : undefined,
  });
}

export function serializeBuildMetadata(m: BuildMetadata): string {
  const bp = (b: BuildMetadataBuildpack) => ({ id: b.id, version: b.version, homepage: b.homepage || undefined, optional: b.optional || undefined });
  return goJson({
    buildpacks: m.buildpacks.map(bp),
    extensions: m.extensions && m.extensions.length > 0 ? m.extensions.map(bp) : undefined,
    launcher: { version: m.launcher.version, source: { git: { repository: m.launcher.source.git.repository, commit: m.launcher.source.git.commit } } },
    processes: m.processes.map((p) => ({
      type: p.type,
      command: p.command,
      args: p.args,
      direct: p.direct,
      default: p.default || undefined,
      buildpackID: p.buildpackID,
      'working-dir': p.workingDir || undefined,
      'exec-env': nonEmpty(p.execEnv),
    })),
    'buildpack-default-process-type': m.defaultProcessType || undefined,
  });
}

export function serializeProjectMetadata(m: ProjectMetadata): string {
  if (!m.source) return '{}';
  return goJson({ source: { type: m.source.type, version: freeForm(m.source.version), metadata: freeForm(m.source.metadata) } });
}

export function serializeCacheMetadata(m: CacheMetadata): string {
  return goJson({ sbom: m.sbom ? sha(m.sbom) : undefined, buildpacks: m.buildpacks.map(buildpackLayersJson) });
}

function nonEmpty<T>(a: readonly T[] | undefined): T[] | undefined {
  return a && a.length > 0 ? [...a] : undefined;
}

// ---- parsing (labels of pack- or lading-built images) ----

class LabelReader {
  constructor(readonly label: string, readonly code: ErrorCode) {}
  fail(path: string, message: string): never {
    throw new LadingError(this.code, `label ${this.label}: ${path}${path ? ' ' : ''}${message}`);
  }
  object(v: unknown, path: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'must be a JSON object');
    return v as Record<string, unknown>;
  }
  optObject(v: unknown, path: string): Record<string, unknown> | undefined {
    return v === undefined || v === null ? undefined : this.object(v, path);
  }
  array(v: unknown, path: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(path, 'must be an array');
    return v as unknown[];
  }
  string(v: unknown, path: string): string {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') this.fail(path, 'must be a string');
    return v as string;
  }
  bool(v: unknown, path: string): boolean {
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.fail(path, 'must be true or false');
    return v as boolean;
  }
  strings(v: unknown, path: string): string[] {
    return this.array(v, path).map((x, i) => this.string(x, `${path}[${i}]`));
  }
  sha(v: unknown, path: string): ShaRef {
    return { sha: this.string(this.object(v ?? {}, path).sha, `${path}.sha`) };
  }
}

function parseLabelJson(text: string, label: string, code: ErrorCode): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new LadingError(code, `label ${label}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return new LabelReader(label, code).object(doc, '');
}

function parseBuildpackLayers(r: LabelReader, v: unknown, path: string): BuildpackLayersMetadata {
  const o = r.object(v, path);
  const layers: Record<string, LayerMetadataEntry> = {};
  for (const [name, l] of Object.entries(r.optObject(o.layers, `${path}.layers`) ?? {})) {
    const lp = `${path}.layers.${name}`;
    const lo = r.object(l, lp);
    layers[name] = {
      sha: r.string(lo.sha, `${lp}.sha`),
      data: r.optObject(lo.data, `${lp}.data`) ?? {},
      build: r.bool(lo.build, `${lp}.build`),
      launch: r.bool(lo.launch, `${lp}.launch`),
      cache: r.bool(lo.cache, `${lp}.cache`),
    };
  }
  const out: BuildpackLayersMetadata = { key: r.string(o.key, `${path}.key`), version: r.string(o.version, `${path}.version`), layers };
  if (out.key === '') r.fail(`${path}.key`, 'is missing');
  const store = r.optObject(o.store, `${path}.store`);
  if (store) out.store = { metadata: r.optObject(store.metadata, `${path}.store.metadata`) ?? {} };
  return out;
}

/** Parses `io.buildpacks.lifecycle.metadata`; `code` is the error code of the phase reading it. */
export function parseLifecycleMetadata(text: string, code: ErrorCode = 'CONTENT_INVALID'): LifecycleMetadata {
  const r = new LabelReader(LIFECYCLE_METADATA_LABEL, code);
  const o = parseLabelJson(text, LIFECYCLE_METADATA_LABEL, code);
  const run = r.optObject(o.runImage, 'runImage') ?? {};
  const out: LifecycleMetadata = {
    app: parseApp(r, o.app),
    buildpacks: r.array(o.buildpacks, 'buildpacks').map((b, i) => parseBuildpackLayers(r, b, `buildpacks[${i}]`)),
    config: r.sha(o.config, 'config'),
    launcher: r.sha(o.launcher, 'launcher'),
    processTypes: r.sha(o['process-types'], 'process-types'),
    runImage: {
      topLayer: r.string(run.topLayer, 'runImage.topLayer'),
      reference: r.string(run.reference, 'runImage.reference'),
      image: r.string(run.image, 'runImage.image'),
    },
  };
  const mirrors = r.strings(run.mirrors, 'runImage.mirrors');
  if (mirrors.length > 0) out.runImage.mirrors = mirrors;
  if (o.sbom !== undefined && o.sbom !== null) out.sbom = r.sha(o.sbom, 'sbom');
  const stack = r.optObject(o.stack, 'stack');
  if (stack) {
    const sr = r.optObject(stack.runImage, 'stack.runImage') ?? {};
    const sm = r.strings(sr.mirrors, 'stack.runImage.mirrors');
    out.stack = { runImage: { image: r.string(sr.image, 'stack.runImage.image'), ...(sm.length > 0 ? { mirrors: sm } : {}) } };
  }
  return out;
}

/** `app` is an array of `{sha}` (Platform ≥0.x); very old images wrote a single object. */
function parseApp(r: LabelReader, v: unknown): ShaRef[] {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return [r.sha(v, 'app')];
  return r.array(v, 'app').map((a, i) => r.sha(a, `app[${i}]`));
}

export function parseBuildMetadata(text: string, code: ErrorCode = 'CONTENT_INVALID'): BuildMetadata {
  const r = new LabelReader(BUILD_METADATA_LABEL, code);
  const o = parseLabelJson(text, BUILD_METADATA_LABEL, code);
  const bp = (v: unknown, path: string): BuildMetadataBuildpack => {
    const b = r.object(v, path);
    const out: BuildMetadataBuildpack = { id: r.string(b.id, `${path}.id`), version: r.string(b.version, `${path}.version`) };
    const homepage = r.string(b.homepage, `${path}.homepage`);
    if (homepage) out.homepage = homepage;
    if (r.bool(b.optional, `${path}.optional`)) out.optional = true;
    return out;
  };
  const launcher = r.optObject(o.launcher, 'launcher') ?? {};
  const git = r.optObject(r.optObject(launcher.source, 'launcher.source')?.git, 'launcher.source.git') ?? {};
  const out: BuildMetadata = {
    buildpacks: r.array(o.buildpacks, 'buildpacks').map((b, i) => bp(b, `buildpacks[${i}]`)),
    launcher: {
      version: r.string(launcher.version, 'launcher.version'),
      source: { git: { repository: r.string(git.repository, 'launcher.source.git.repository'), commit: r.string(git.commit, 'launcher.source.git.commit') } },
    },
    processes: r.array(o.processes, 'processes').map((v, i) => {
      const path = `processes[${i}]`;
      const p = r.object(v, path);
      // Platform < 0.10 wrote the command as one string.
      const command = typeof p.command === 'string' ? [p.command] : r.strings(p.command, `${path}.command`);
      const proc: BuildMetadataProcess = {
        type: r.string(p.type, `${path}.type`),
        command,
        args: r.strings(p.args, `${path}.args`),
        direct: r.bool(p.direct, `${path}.direct`),
        buildpackID: r.string(p.buildpackID, `${path}.buildpackID`),
      };
      if (r.bool(p.default, `${path}.default`)) proc.default = true;
      const wd = r.string(p['working-dir'], `${path}.working-dir`);
      if (wd) proc.workingDir = wd;
      const ee = r.strings(p['exec-env'], `${path}.exec-env`);
      if (ee.length > 0) proc.execEnv = ee;
      return proc;
    }),
  };
  const ext = r.array(o.extensions, 'extensions').map((b, i) => bp(b, `extensions[${i}]`));
  if (ext.length > 0) out.extensions = ext;
  const def = r.string(o['buildpack-default-process-type'], 'buildpack-default-process-type');
  if (def) out.defaultProcessType = def;
  return out;
}

export function parseProjectMetadata(text: string, code: ErrorCode = 'CONTENT_INVALID'): ProjectMetadata {
  const r = new LabelReader(PROJECT_METADATA_LABEL, code);
  const o = parseLabelJson(text, PROJECT_METADATA_LABEL, code);
  const s = r.optObject(o.source, 'source');
  if (!s) return {};
  return {
    source: {
      type: r.string(s.type, 'source.type'),
      version: r.optObject(s.version, 'source.version') ?? {},
      metadata: r.optObject(s.metadata, 'source.metadata') ?? {},
    },
  };
}

export function parseCacheMetadata(text: string, code: ErrorCode = 'CONTENT_INVALID'): CacheMetadata {
  const r = new LabelReader(CACHE_METADATA_LABEL, code);
  const o = parseLabelJson(text, CACHE_METADATA_LABEL, code);
  const out: CacheMetadata = { buildpacks: r.array(o.buildpacks, 'buildpacks').map((b, i) => parseBuildpackLayers(r, b, `buildpacks[${i}]`)) };
  if (o.sbom !== undefined && o.sbom !== null) out.sbom = r.sha(o.sbom, 'sbom');
  return out;
}
