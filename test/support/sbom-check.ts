import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { spdxSchema } from './sbom.js';

/**
 * Issue 7's "CI validates every SBOM the tests produce", as a mechanism rather than spot checks: every SBOM
 * referrer and every file of every image's CNB SBOM layer found in a registry's storage (startRegistry's
 * stop() runs this), an OCI layout, or a --sbom-output-dir is validated — CycloneDX with the CycloneDX
 * library's strict JSON validator (the version the document declares), SPDX with ajv against the SPDX 2.3
 * schema. A problem names the image, the file and the JSON pointer. Independent of lading's own code: it
 * reads the registry's storage directory or the layout's blobs directly.
 */

const CDX_TYPE = 'application/vnd.cyclonedx+json';
const SPDX_TYPE = 'application/spdx+json';
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const LIFECYCLE_LABEL = 'io.buildpacks.lifecycle.metadata';

type Format = 'cyclonedx' | 'spdx';
type Json = Record<string, unknown>;
type AjvError = { instancePath: string; message?: string; params?: Record<string, unknown> };
type Validate = (text: string, doc: Json) => Promise<AjvError[]>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const cdxValidators = new Map<string, Validate>();
let spdxValidate: Validate | undefined;

async function cyclonedxValidator(version: string): Promise<Validate | undefined> {
  const cached = cdxValidators.get(version);
  if (cached) return cached;
  const CDX = await import('@cyclonedx/cyclonedx-library');
  const known = Object.values(CDX.Spec.Version) as string[];
  if (!known.includes(version)) return undefined;
  const validator = new CDX.Validation.JsonStrictValidator(version as InstanceType<typeof CDX.Validation.JsonStrictValidator>['version']);
  const v: Validate = async (text) => ((await validator.validate(text)) as AjvError[] | null) ?? [];
  cdxValidators.set(version, v);
  return v;
}

async function spdxValidator(): Promise<Validate> {
  if (spdxValidate) return spdxValidate;
  const schema = spdxSchema();
  if (!schema) {
    spdxValidate = async () => [];
    return spdxValidate;
  }
  const { Ajv } = await import('ajv');
  const addFormats = (await import('ajv-formats')).default as unknown as (ajv: InstanceType<typeof Ajv>) => void;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const compiled = ajv.compile(schema);
  spdxValidate = async (_text, doc) => (compiled(doc) ? [] : ((compiled.errors ?? []) as AjvError[]));
  return spdxValidate;
}

function formatError(e: AjvError): string {
  const extra = e.params?.['additionalProperty'] ?? e.params?.['missingProperty'];
  return `${e.instancePath || '(document root)'}: ${e.message ?? 'invalid'}${extra !== undefined ? ` '${String(extra)}'` : ''}`;
}

/**
 * Problems of one SBOM document ([] when valid): not JSON, not the expected format, or schema errors by JSON
 * pointer. `expected` comes from the file name or media type; without it the document says what it is.
 * `requireSpecVersion` pins CycloneDX's version (image SBOMs are 1.6).
 */
export async function sbomDocumentProblems(text: string, where: string, expected?: Format, requireSpecVersion?: string): Promise<string[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return [`${where}: not JSON (${(err as Error).message})`];
  }
  if (!isObject(doc)) return [`${where}: not a JSON object`];
  const format: Format | undefined = doc['bomFormat'] === 'CycloneDX' ? 'cyclonedx' : typeof doc['spdxVersion'] === 'string' ? 'spdx' : undefined;
  if (!format) return [`${where}: neither CycloneDX (bomFormat) nor SPDX (spdxVersion)${expected ? `, expected ${expected}` : ''}`];
  if (expected && format !== expected) return [`${where}: a ${format} document where ${expected} was expected`];
  if (format === 'cyclonedx') {
    const version = String(doc['specVersion']);
    if (requireSpecVersion && version !== requireSpecVersion) return [`${where} /specVersion: ${version}, expected ${requireSpecVersion}`];
    const validate = await cyclonedxValidator(version);
    if (!validate) return [`${where} /specVersion: unknown CycloneDX version ${JSON.stringify(doc['specVersion'])}`];
    return (await validate(text, doc)).map((e) => `${where} ${formatError(e)}`);
  }
  if (doc['spdxVersion'] !== 'SPDX-2.3') return [`${where} /spdxVersion: ${String(doc['spdxVersion'])}, expected SPDX-2.3`];
  return (await (await spdxValidator())(text, doc)).map((e) => `${where} ${formatError(e)}`);
}

/** The SBOM format a file name says (`*.cdx.json`, `*.spdx.json`); other files (syft) are not validated. */
function formatOfName(name: string): Format | undefined {
  return name.endsWith('.cdx.json') ? 'cyclonedx' : name.endsWith('.spdx.json') ? 'spdx' : undefined;
}

/** What a check looked at, so a test can prove the mechanism saw its SBOMs (counts only grow). */
export interface SbomCheckStats {
  /** CycloneDX/SPDX documents of referrers. */
  referrerDocuments: number;
  /** Images with a CNB SBOM layer, and the CycloneDX/SPDX files in those layers. */
  sbomLayers: number;
  layerFiles: number;
}

export const newStats = (): SbomCheckStats => ({ referrerDocuments: 0, sbomLayers: 0, layerFiles: 0 });

/** Where manifests and blobs are: a registry's storage or an OCI layout. */
export interface BlobStore {
  /** `sha256:…` → bytes, or undefined when absent. */
  blob(digest: string): Buffer | undefined;
}

function tarFiles(layer: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  return new Promise((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      body.on('end', () => {
        if (header.type === 'file') out.set(header.name.replace(/^(\.?\/)+/, ''), Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', () => resolve(out));
    extract.on('error', reject);
    Readable.from([layer]).pipe(extract);
  });
}

async function sbomLayerProblems(store: BlobStore, image: string, manifest: Json, config: Json, stats: SbomCheckStats): Promise<string[]> {
  const labels = isObject(config['config']) && isObject(config['config']['Labels']) ? config['config']['Labels'] : {};
  const raw = labels[LIFECYCLE_LABEL];
  if (typeof raw !== 'string') return [];
  let metadata: unknown;
  try {
    metadata = JSON.parse(raw);
  } catch {
    return [`${image}: label ${LIFECYCLE_LABEL} is not JSON`];
  }
  const sha = isObject(metadata) && isObject(metadata['sbom']) ? metadata['sbom']['sha'] : undefined;
  if (typeof sha !== 'string') return [];
  const diffIds = isObject(config['rootfs']) && Array.isArray(config['rootfs']['diff_ids']) ? (config['rootfs']['diff_ids'] as unknown[]) : [];
  const index = diffIds.indexOf(sha);
  const layers = Array.isArray(manifest['layers']) ? (manifest['layers'] as Json[]) : [];
  const layer = layers[index];
  if (index < 0 || !layer) return [`${image}: ${LIFECYCLE_LABEL} names the SBOM layer ${sha}, which is not among the image's diff_ids`];
  const blob = store.blob(String(layer['digest']));
  if (!blob) return [`${image}: SBOM layer blob ${String(layer['digest'])} is missing`];
  const files = await tarFiles(blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob);
  stats.sbomLayers++;
  const problems: string[] = [];
  let found = 0;
  for (const [path, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const format = formatOfName(path);
    if (!format || !/(^|\/)layers\/sbom\//.test(path)) continue;
    found++;
    stats.layerFiles++;
    problems.push(...(await sbomDocumentProblems(bytes.toString('utf8'), `${image} CNB SBOM layer ${sha}: /${path}`, format)));
  }
  if (found === 0 && ![...files.keys()].some((p) => p.endsWith('.syft.json'))) problems.push(`${image}: the CNB SBOM layer ${sha} holds no SBOM file`);
  return problems;
}

/** Problems of the SBOMs one manifest carries: a referrer's documents, or an image's CNB SBOM layer. */
export async function manifestSbomProblems(store: BlobStore, name: string, digest: string, stats = newStats()): Promise<string[]> {
  const bytes = store.blob(digest);
  if (!bytes) return [`${name}@${digest}: manifest blob missing`];
  let manifest: unknown;
  try {
    manifest = JSON.parse(bytes.toString('utf8'));
  } catch {
    return []; // not a manifest this check understands (a registry stores what it was given)
  }
  if (!isObject(manifest) || INDEX_TYPES.has(String(manifest['mediaType'])) || Array.isArray(manifest['manifests'])) return [];
  const image = `${name}@${digest}`;
  const layers = Array.isArray(manifest['layers']) ? (manifest['layers'] as Json[]) : [];
  const configDesc = isObject(manifest['config']) ? manifest['config'] : {};
  const artifactType = String(manifest['artifactType'] ?? configDesc['mediaType'] ?? '');
  const sbomLayers = layers.filter((l) => l['mediaType'] === CDX_TYPE || l['mediaType'] === SPDX_TYPE);
  if (sbomLayers.length || artifactType === CDX_TYPE || artifactType === SPDX_TYPE) {
    if (sbomLayers.length === 0) return [`${image}: an SBOM referrer (${artifactType}) without an SBOM layer`];
    const problems: string[] = [];
    for (const l of sbomLayers) {
      const format: Format = l['mediaType'] === CDX_TYPE ? 'cyclonedx' : 'spdx';
      const blobDigest = String(l['digest']);
      const doc = store.blob(blobDigest);
      stats.referrerDocuments++;
      const where = `${image} (SBOM referrer, ${String(l['mediaType'])} ${blobDigest})`;
      problems.push(...(doc ? await sbomDocumentProblems(doc.toString('utf8'), where, format, format === 'cyclonedx' ? '1.6' : undefined) : [`${where}: blob missing`]));
    }
    return problems;
  }
  if (!IMAGE_CONFIG_TYPES.has(String(configDesc['mediaType']))) return [];
  const configBytes = store.blob(String(configDesc['digest']));
  if (!configBytes) return [`${image}: config blob ${String(configDesc['digest'])} missing`];
  return sbomLayerProblems(store, image, manifest, JSON.parse(configBytes.toString('utf8')) as Json, stats);
}

function blobFile(path: string): Buffer | undefined {
  return existsSync(path) ? readFileSync(path) : undefined;
}

/** Every manifest ever pushed to a registry 2.x storage directory (`<data>/docker/registry/v2`), by repository. */
function registryManifests(dataDir: string): { name: string; digest: string }[] {
  const repos = join(dataDir, 'docker/registry/v2/repositories');
  const out: { name: string; digest: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === '_manifests') {
        const revisions = join(dir, e.name, 'revisions/sha256');
        if (!existsSync(revisions)) continue;
        for (const hex of readdirSync(revisions).sort()) {
          if (existsSync(join(revisions, hex, 'link'))) out.push({ name: relative(repos, dir), digest: `sha256:${hex}` });
        }
      } else if (!e.name.startsWith('_')) walk(join(dir, e.name));
    }
  };
  if (existsSync(repos)) walk(repos);
  return out.sort((a, b) => (`${a.name}@${a.digest}` < `${b.name}@${b.digest}` ? -1 : 1));
}

/** Every SBOM problem in a registry's storage (startRegistry's `dataDir`): referrers and CNB SBOM layers. */
export async function registrySbomProblems(dataDir: string, host = 'registry', stats = newStats()): Promise<string[]> {
  const blobs = join(dataDir, 'docker/registry/v2/blobs/sha256');
  const store: BlobStore = { blob: (d) => blobFile(join(blobs, d.slice(7, 9), d.slice(7), 'data')) };
  const problems: string[] = [];
  for (const m of registryManifests(dataDir)) problems.push(...(await manifestSbomProblems(store, `${host}/${m.name}`, m.digest, stats)));
  return problems;
}

/** Every SBOM problem in an OCI layout: each manifest `index.json` reaches (nested indexes followed). */
export async function layoutSbomProblems(layout: string, stats = newStats()): Promise<string[]> {
  const store: BlobStore = { blob: (d) => blobFile(join(layout, 'blobs', ...d.split(':'))) };
  const seen = new Set<string>();
  const problems: string[] = [];
  const visit = async (descriptors: unknown): Promise<void> => {
    for (const d of Array.isArray(descriptors) ? descriptors : []) {
      if (!isObject(d) || typeof d['digest'] !== 'string' || seen.has(d['digest'])) continue;
      seen.add(d['digest']);
      if (INDEX_TYPES.has(String(d['mediaType']))) {
        const bytes = store.blob(d['digest']);
        if (bytes) await visit((JSON.parse(bytes.toString('utf8')) as Json)['manifests']);
        continue;
      }
      problems.push(...(await manifestSbomProblems(store, `oci:${layout}`, d['digest'], stats)));
    }
  };
  await visit((JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as Json)['manifests']);
  return problems;
}

/**
 * Every SBOM problem in a directory `--sbom-output-dir` wrote (or any tree of SBOM files): each `*.cdx.json`
 * and `*.spdx.json` below it. An empty or missing directory is a problem: the caller asked for SBOMs there.
 */
export async function sbomDirProblems(dir: string): Promise<string[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [`${dir}: no SBOM output directory`];
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => formatOfName(f) !== undefined).sort();
  if (files.length === 0) return [`${dir}: holds no *.cdx.json or *.spdx.json file`];
  const problems: string[] = [];
  for (const f of files) problems.push(...(await sbomDocumentProblems(readFileSync(join(dir, f), 'utf8'), join(dir, f), formatOfName(f))));
  return problems;
}

/** Throws one error listing every problem (for afterAll hooks and tests); resolves when there is none. */
export function assertNoSbomProblems(problems: readonly string[], what: string): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, 40);
  const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : '';
  throw new Error(`invalid SBOMs in ${what} (${problems.length}):\n  ${shown.join('\n  ')}${more}`);
}

/** For --sbom-output-dir: validates every SBOM file below `dir`, failing with each file and JSON pointer. */
export async function expectValidSbomDir(dir: string): Promise<void> {
  assertNoSbomProblems(await sbomDirProblems(dir), dir);
}

/** For OCI layouts: validates every SBOM referrer and CNB SBOM layer the layout holds; returns what it saw. */
export async function expectValidLayoutSboms(layout: string): Promise<SbomCheckStats> {
  const stats = newStats();
  assertNoSbomProblems(await layoutSbomProblems(layout, stats), `oci:${layout}`);
  return stats;
}

/**
 * The directory a `lading …` argument list asks SBOMs to be written to (`--sbom-output-dir DIR` or
 * `--sbom-output-dir=DIR`), so the CLI test runner can validate it after a successful run.
 */
export function sbomOutputDirOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--sbom-output-dir') return args[i + 1];
    if (a.startsWith('--sbom-output-dir=')) return a.slice('--sbom-output-dir='.length);
  }
  return undefined;
}
