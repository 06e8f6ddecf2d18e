import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError } from '../../registry/oci/index.js';
import type { LockedPackage } from './lock-file.js';
import { StackError } from './stack-file.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; injected so tests can observe or replace apt. */
export type CommandRunner = (file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }) => Promise<CommandResult>;

export const runCommand: CommandRunner = (file, args, options) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new StackError('NOT_FOUND', `cannot run ${file}: ${e.message} (is apt installed?)`, { cause: e })));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });

export interface AptOptions {
  /** Debian architecture to resolve for. */
  architecture: string;
  /** A sources file to use instead of the machine's /etc/apt/sources.list(.d). */
  sources?: string;
  run?: CommandRunner;
  tempDir?: string;
}

/** A package apt chose: name, version and architecture. */
export interface AptChoice {
  name: string;
  version: string;
  architecture: string;
}

function firstError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => l.startsWith('E:')) ?? lines[0] ?? 'no output').replace(/^E:\s*/, '');
}

/**
 * apt with a throwaway state: its own lists, an empty dpkg status (so nothing counts as installed) and
 * its own cache, but the machine's sources, keyrings and apt.conf (proxies, mirrors). apt does every
 * download; lading opens no connection itself.
 */
export class AptSession {
  #updated = false;
  private constructor(readonly dir: string, private readonly options: AptOptions, private readonly run: CommandRunner) {}

  static async open(options: AptOptions): Promise<AptSession> {
    const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'lading-apt-'));
    await mkdir(join(dir, 'lists', 'partial'), { recursive: true });
    await mkdir(join(dir, 'cache', 'archives', 'partial'), { recursive: true });
    await mkdir(join(dir, 'empty.d'), { recursive: true });
    await writeFile(join(dir, 'status'), '');
    return new AptSession(dir, options, options.run ?? runCommand);
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private args(): string[] {
    const d = this.dir;
    const o = [
      `Dir::State=${d}`, `Dir::State::Lists=${join(d, 'lists')}`, `Dir::State::status=${join(d, 'status')}`, `Dir::Cache=${join(d, 'cache')}`,
      `Dir::Cache::pkgcache=`, `Dir::Cache::srcpkgcache=`,
      `APT::Architecture=${this.options.architecture}`, `APT::Architectures=${this.options.architecture}`,
      'APT::Install-Recommends=false', 'APT::Install-Suggests=false', 'Debug::NoLocking=true', 'Acquire::Languages=none',
    ];
    // As root apt drops to the _apt user for downloads, which cannot write into our private temp dir.
    if (process.getuid?.() === 0) o.push('APT::Sandbox::User=root');
    if (this.options.sources) o.push(`Dir::Etc::sourcelist=${this.options.sources}`, `Dir::Etc::sourceparts=${join(d, 'empty.d')}`);
    return o.flatMap((x) => ['-o', x]);
  }

  private async apt(program: 'apt-get' | 'apt-cache', args: string[], cwd?: string): Promise<CommandResult> {
    return this.run(program, [...this.args(), ...args], { ...(cwd ? { cwd } : {}), env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' } });
  }

  /** `apt-get update` into the private lists; fails on any source that cannot be fetched. */
  async update(): Promise<void> {
    if (this.#updated) return;
    const r = await this.apt('apt-get', ['update', '-qq', '--error-on=any']);
    if (r.code !== 0) throw new StackError('NETWORK', `apt-get update failed: ${firstError(r.stderr)}`, { temporary: true });
    this.#updated = true;
  }

  /** The codenames of the configured sources (`bookworm`, `bookworm-updates`, …). */
  async codenames(): Promise<string[]> {
    await this.update();
    const r = await this.apt('apt-get', ['indextargets', '--format', '$(CODENAME)']);
    if (r.code !== 0) throw new StackError('INTERNAL', `apt-get indextargets failed: ${firstError(r.stderr)}`);
    return [...new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean))].sort();
  }

  /** What apt would install for `names`: with dependencies, or (standalone) exactly those packages. */
  async choose(names: readonly string[], withDependencies: boolean, where: string): Promise<AptChoice[]> {
    if (names.length === 0) return [];
    await this.update();
    const r = withDependencies
      ? await this.apt('apt-get', ['install', '--print-uris', '-qq', '-y', ...names])
      : await this.apt('apt-get', ['download', '--print-uris', '-qq', ...names]);
    if (r.code !== 0) {
      const why = firstError(r.stderr);
      const missing = /Unable to locate package (\S+)|Package '?([^' ]+)'? has no installation candidate/.exec(why);
      if (missing) throw new NotFoundError(`${where}: package ${missing[1] ?? missing[2]} is not available from the apt sources (${why})`);
      throw new StackError('CONTENT_INVALID', `${where}: apt cannot resolve ${names.join(' ')}: ${why}`);
    }
    return r.stdout.split('\n').filter((l) => l.startsWith("'")).map((line) => {
      const file = decodeURIComponent(line.split(' ')[1] ?? '');
      const m = /^([^_]+)_([^_]+)_([^_]+)\.deb$/.exec(file);
      if (!m) throw new StackError('INTERNAL', `${where}: cannot read apt's file name ${file}`);
      return { name: m[1]!, version: m[2]!, architecture: m[3]! };
    });
  }

  /** The archive records (`apt-cache show`) of the chosen packages: pool file, size, sha256. */
  async records(choices: readonly AptChoice[]): Promise<LockedPackage[]> {
    if (choices.length === 0) return [];
    const r = await this.apt('apt-cache', ['show', '--no-all-versions', ...choices.map((c) => `${c.name}:${c.architecture}=${c.version}`)]);
    if (r.code !== 0) throw new StackError('CONTENT_INVALID', `apt-cache show failed: ${firstError(r.stderr)}`);
    const found = new Map<string, LockedPackage>();
    for (const fields of parseControlRecords(r.stdout)) {
      const name = fields.get('Package');
      const key = `${name}=${fields.get('Version')}`;
      if (!name || found.has(key)) continue;
      const sha256 = fields.get('SHA256') ?? '';
      found.set(key, {
        name, version: fields.get('Version') ?? '', architecture: fields.get('Architecture') ?? '',
        filename: fields.get('Filename') ?? '', size: Number(fields.get('Size')), sha256,
      });
    }
    return choices.map((c) => {
      const p = found.get(`${c.name}=${c.version}`);
      if (!p || !/^[0-9a-f]{64}$/.test(p.sha256) || !p.filename) throw new StackError('CONTENT_INVALID', `the apt index has no SHA256 and Filename for ${c.name} ${c.version}`);
      return p;
    });
  }

  /** Downloads the packages with `apt-get download` into `dest`; returns path by sha256 (verified). */
  async download(packages: readonly LockedPackage[], dest: string): Promise<void> {
    if (packages.length === 0) return;
    await this.update();
    const work = await mkdtemp(join(this.dir, 'dl-'));
    const r = await this.apt('apt-get', ['download', '-qq', ...packages.map((p) => `${p.name}:${p.architecture}=${p.version}`)], work);
    if (r.code !== 0) {
      const why = firstError(r.stderr);
      if (/not found|Unable to locate|no installation candidate/i.test(why)) {
        throw new StackError('STACK_LOCK', `a locked package is no longer in the apt sources (${why}); run \`lading stack lock\` (or \`stack build --update\`)`);
      }
      throw new StackError('NETWORK', `apt-get download failed: ${why}`, { temporary: true });
    }
    const want = new Map(packages.map((p) => [p.sha256, p]));
    for (const name of await readdir(work)) {
      if (!name.endsWith('.deb')) continue;
      const digest = await sha256File(join(work, name));
      if (!want.has(digest)) {
        throw new StackError('CONTENT_INVALID', `apt-get download gave ${name} with sha256 ${digest}, which matches no locked package (the archive changed under the lock?)`);
      }
      await rename(join(work, name), join(dest, `${digest}.deb`));
      want.delete(digest);
    }
    const missing = [...want.values()];
    if (missing.length > 0) {
      throw new StackError('CONTENT_INVALID', `downloaded ${missing.map((p) => `${p.name} ${p.version}`).join(', ')} does not have the locked sha256`);
    }
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function fileExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** RFC 822-style control records (dpkg status, apt-cache show): a list of ordered field maps. */
export function parseControlRecords(text: string): Map<string, string>[] {
  const records: Map<string, string>[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
        fields.set(last, `${fields.get(last)}\n${line}`);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new StackError('CONTENT_INVALID', `not a control record line: ${line.slice(0, 80)}`);
      last = line.slice(0, colon);
      fields.set(last, line.slice(colon + 1).trim());
    }
    if (fields.size > 0) records.push(fields);
  }
  return records;
}
