import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import semver from 'semver';
import { BuildpackError } from '../errors.js';
import { verifyFile } from './integrity.js';
import type { DependencyDescription, DependencySource, FetchedDependency } from './source.js';

export interface AptSourceOptions {
  /** Debian architecture; default `dpkg --print-architecture`. */
  arch?: string;
  /** For purls: distro id and version (default from /etc/os-release). */
  distro?: { id: string; versionId?: string };
  env?: Readonly<Record<string, string | undefined>>;
}

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
    const out = await this.#run('apt-cache', ['madison', name]);
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
    const records = parseAptRecords(await this.#run('apt-cache', ['show', `${name}=${version}`]));
    const rec = records.find((r) => r['Version'] === version && (r['Architecture'] === arch || r['Architecture'] === 'all') && r['SHA256']);
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
    const before = new Set(await readdir(dir));
    await this.#run('apt-get', ['download', '-q', `${name}=${version}`], dir);
    const created = (await readdir(dir)).filter((f) => !before.has(f) && f.endsWith('.deb') && f.startsWith(`${name}_`));
    if (created.length !== 1) throw new BuildpackError('DEPENDENCY_FETCH', `apt-get download ${name}=${version} left no single .deb in ${dir}`);
    const file = join(dir, created[0] as string);
    try {
      const sha256 = await verifyFile(file, { algorithm: 'sha256', hex: d.checksum.slice('sha256:'.length) }, `Debian package ${name}=${version} (apt SHA256)`);
      return { ...d, path: file, sha256 };
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }
}
