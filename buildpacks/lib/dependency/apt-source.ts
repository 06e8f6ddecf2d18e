import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { BuildpackError } from '../errors.js';
import type { Layers } from '../layer.js';
import type { TomlTable } from '../toml-file.js';
import { DownloadStore } from './download-store.js';
import { verifyFile } from './integrity.js';
import type { DependencyDescription, DependencySource, FetchedDependency } from './source.js';

export interface AptSourceOptions {
  /** Debian architecture; default `dpkg --print-architecture`. */
  arch?: string;
  /** For purls: distro id and version (default from /etc/os-release). */
  distro?: { id: string; versionId?: string };
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Where apt's answers are kept between builds (see `AptSource.cached`): a table this source fills and reads
   * back while apt's package lists and configuration are unchanged, instead of running apt-cache again.
   */
  memo?: TomlTable;
}

/** The cache layer `AptSource.cached` keeps apt's answers in (as `[metadata]`, the directory stays empty). */
export const APT_MEMO_LAYER = 'apt-index';

/** One `apt-cache show` record. */
export type AptRecord = Record<string, string>;

/** Splits `apt-cache show` output into records (continuation lines folded into their field). */
export function parseAptRecords(text: string): AptRecord[] {
  const out: AptRecord[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const rec: AptRecord = {};
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (/^\s/.test(line) && last) rec[last] += `\n${line.trim()}`;
      else {
        const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
        if (m) rec[(last = m[1] as string)] = m[2] as string;
      }
    }
    if (rec['Package']) out.push(rec);
  }
  return out;
}

/** The upstream part of a Debian version (no epoch, no Debian revision), for semver comparison. */
export function debianUpstreamVersion(v: string): string {
  return v.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/** Semver of a Debian version for constraint matching: the upstream part's leading numbers (`2:1.19~1` → 1.19.0). */
export function debianSemver(v: string): string | null {
  return semver.coerce(debianUpstreamVersion(v))?.version ?? null;
}

/** `pkg:deb/debian/<name>@<version>?arch=<arch>&distro=debian-<version>` (purl spec, deb type). */
export function debPurl(name: string, version: string, arch: string, distro?: { id: string; versionId?: string }): string {
  const ns = distro?.id ?? 'debian';
  const q = [`arch=${arch}`, ...(distro?.versionId ? [`distro=${ns}-${distro.versionId}`] : [])].join('&');
  return `pkg:deb/${ns}/${name}@${encodeURIComponent(version)}?${q}`;
}

/**
 * Debian packages through apt with the machine's apt configuration (design.md §8): `apt-cache madison` for
 * versions, `apt-cache show` for the SHA256 apt records, `apt-get download` then verification.
 */
export class AptSource implements DependencySource {
  readonly kind = 'apt';
  readonly #opts: AptSourceOptions;
  #arch: string | undefined;
  #distro: { id: string; versionId?: string } | undefined;

  constructor(opts: AptSourceOptions = {}) {
    this.#opts = opts;
    this.#arch = opts.arch;
    this.#distro = opts.distro;
  }

  async #run(cmd: string, args: string[], cwd?: string): Promise<string> {
    // execa on first use: a buildpack that never asks apt does not load it
    const { execa } = await import('execa');
    try {
      const r = await execa(cmd, args, { ...(cwd ? { cwd } : {}), env: { ...(this.#opts.env ?? process.env), LC_ALL: 'C' }, extendEnv: false, timeout: 300_000 });
      return r.stdout;
    } catch (err) {
      const e = err as { stderr?: string; shortMessage?: string; code?: string };
      if (e.code === 'ENOENT') throw new BuildpackError('DEPENDENCY_FETCH', `${cmd} is not installed: the apt dependency source needs apt (Debian/Ubuntu)`, { cause: err });
      const detail = (e.stderr ?? '').trim().split('\n').slice(-3).join(' ') || e.shortMessage;
      throw new BuildpackError('DEPENDENCY_FETCH', `${cmd} ${args.join(' ')} failed: ${detail}`, { cause: err });
    }
  }

  /** apt-cache's answer to `key`, from the memo while apt's state is the one it was recorded under. */
  async #memoized<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const memo = this.#opts.memo;
    if (!memo) return compute();
    const state = await this.#aptState();
    if (memo['state'] !== state || typeof memo['answers'] !== 'object' || memo['answers'] === null || Array.isArray(memo['answers'])) {
      for (const k of Object.keys(memo)) delete memo[k];
      memo['state'] = state;
      memo['answers'] = {};
    }
    const answers = memo['answers'] as TomlTable;
    const known = answers[key];
    if (typeof known === 'string') {
      try {
        return JSON.parse(known) as T;
      } catch {
        // a damaged entry: ask apt again
      }
    }
    const value = await compute();
    answers[key] = JSON.stringify(value);
    return value;
  }

  #state: Promise<string> | undefined;

  /**
   * What apt-cache's answers depend on, cheaply: the architecture, apt's directories (apt-config), and the
   * name, size and mtime of every package list and of every file of apt's configuration tree. \`apt-get
   * update\`, a new source, pin or configuration file changes it.
   */
  #aptState(): Promise<string> {
    this.#state ??= (async () => {
      const hash = createHash('sha256');
      const dirs = await this.#run('apt-config', ['shell', 'LISTS', 'Dir::State::Lists/d', 'ETC', 'Dir::Etc/d', 'PKGCACHE', 'Dir::Cache::pkgcache/f', 'STATUS', 'Dir::State::status/f']);
      hash.update(`${await this.#architecture()}\n${dirs}\n${(this.#opts.env ?? process.env)['APT_CONFIG'] ?? ''}\n`);
      const value = (name: string) => new RegExp(`^${name}='([^']*)'`, 'm').exec(dirs)?.[1];
      const describeTree = async (path: string, depth: number): Promise<void> => {
        const st = await stat(path).catch(() => undefined);
        hash.update(`${path}\0${st ? `${st.mode}:${st.size}:${st.mtimeMs}` : '-'}\n`);
        if (!st?.isDirectory() || depth === 0) return;
        for (const name of (await readdir(path)).sort()) await describeTree(join(path, name), depth - 1);
      };
      const lists = value('LISTS');
      const etc = value('ETC');
      if (lists) await describeTree(lists, 1);
      if (etc) await describeTree(etc, 3);
      const config = (this.#opts.env ?? process.env)['APT_CONFIG'];
      if (config) await describeTree(config, 0);
      return hash.digest('hex');
    })();
    return this.#state;
  }

  /**
   * An AptSource whose apt-cache answers are kept in the cache layer \`apt-index\` of \`layers\` (cache=true,
   * an empty directory, the answers in its metadata): a rebuild on an unchanged apt state resolves versions
   * and checksums without running apt-cache (which re-reads all package lists each time, ~0.5 s a call).
   */
  static async cached(layers: Layers, opts: Omit<AptSourceOptions, 'memo'> = {}): Promise<AptSource> {
    const layer = await layers.layer(APT_MEMO_LAYER, { cache: true });
    await mkdir(layer.path, { recursive: true });
    return new AptSource({ ...opts, memo: layer.metadata });
  }

  /** Package names starting with \`prefix\` (\`apt-cache pkgnames\`) that match \`pattern\`, sorted. */
  async packageNames(prefix: string, pattern: RegExp): Promise<string[]> {
    return this.#memoized(`pkgnames ${prefix} ${pattern.source}`, async () =>
      (await this.#run('apt-cache', ['pkgnames', prefix]))
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => pattern.test(l))
        .sort(),
    );
  }

  async #architecture(): Promise<string> {
    this.#arch ??= (await this.#run('dpkg', ['--print-architecture'])).trim();
    return this.#arch;
  }

  async #distribution(): Promise<{ id: string; versionId?: string }> {
    if (!this.#distro) {
      const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
      const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1]?.replace(/^"|"$/g, '');
      const id = get('ID') || 'debian';
      const versionId = get('VERSION_ID');
      this.#distro = versionId ? { id, versionId } : { id };
    }
    return this.#distro;
  }

  async versions(name: string): Promise<string[]> {
    const arch = await this.#architecture();
    const out = await this.#memoized(`madison ${name}`, () => this.#run('apt-cache', ['madison', name]));
    const versions = out
      .split('\n')
      .map((l) => l.split('|').map((s) => s.trim()))
      .filter((cols) => cols[0] === name && / (Packages)$/.test(cols[2] ?? '') && new RegExp(` (${arch}|all) Packages$`).test(cols[2] ?? ''))
      .map((cols) => cols[1] as string);
    if (versions.length === 0) {
      throw new BuildpackError('DEPENDENCY_UNRESOLVED', `apt knows no package ${name} for ${arch} (apt-cache madison ${name} lists nothing; is "apt-get update" needed?)`);
    }
    return [...new Set(versions)];
  }

  async #record(name: string, version: string): Promise<AptRecord> {
    const arch = await this.#architecture();
    const rec = await this.#memoized(`show ${name}=${version}`, async () => {
      const records = parseAptRecords(await this.#run('apt-cache', ['show', `${name}=${version}`]));
      const found = records.find((r) => r['Version'] === version && (r['Architecture'] === arch || r['Architecture'] === 'all') && r['SHA256']);
      // only what describe() uses is kept
      return found ? { Package: found['Package'], Version: found['Version'], Architecture: found['Architecture'], SHA256: found['SHA256'] } as AptRecord : null;
    });
    if (!rec) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `apt has no record with a SHA256 for ${name}=${version} (${arch})`);
    return rec;
  }

  async describe(name: string, version: string): Promise<DependencyDescription> {
    const rec = await this.#record(name, version);
    const arch = rec['Architecture'] as string;
    return {
      name,
      version,
      checksum: `sha256:${rec['SHA256']}`,
      uri: `apt:${name}=${version}`,
      purl: debPurl(name, version, arch, await this.#distribution()),
      // apt records carry no licence; Debian keeps it in the package's copyright file
      licenses: [],
      source: this.kind,
    };
  }

  async fetch(name: string, version: string, dir: string): Promise<FetchedDependency> {
    const d = await this.describe(name, version);
    await mkdir(dir, { recursive: true });
    const expected = { algorithm: 'sha256', hex: d.checksum.slice('sha256:'.length) } as const;
    const store = DownloadStore.fromEnv(this.#opts.env ?? process.env);
    const keptFile = join(dir, `${name}_${version.replace(/:/g, '%3a')}.deb`);
    const kept = await store?.take(expected, keptFile, `Debian package ${name}=${version}`);
    if (kept) return { ...d, path: keptFile, sha256: kept, fromStore: true };
    const before = new Set(await readdir(dir));
    await this.#run('apt-get', ['download', '-q', `${name}=${version}`], dir);
    const created = (await readdir(dir)).filter((f) => !before.has(f) && f.endsWith('.deb') && f.startsWith(`${name}_`));
    if (created.length !== 1) throw new BuildpackError('DEPENDENCY_FETCH', `apt-get download ${name}=${version} left no single .deb in ${dir}`);
    const file = join(dir, created[0] as string);
    try {
      const sha256 = await verifyFile(file, expected, `Debian package ${name}=${version} (apt SHA256)`);
      await store?.keep(expected, file);
      return { ...d, path: file, sha256 };
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }
}
