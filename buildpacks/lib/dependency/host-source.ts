import { access, constants, realpath } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { BuildpackError } from '../errors.js';
import { hashFile } from './integrity.js';
import type { DependencyDescription, DependencySource, FetchedDependency } from './source.js';

/** How to find a tool on the host and read its version, e.g. go: `go version` → /go(\d+\.\d+(\.\d+)?)/. */
export interface HostTool {
  command: string;
  versionArgs: string[];
  versionPattern: RegExp;
}

export interface HostSourceOptions {
  tools: Readonly<Record<string, HostTool>>;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The host's own toolchain, when the user asks for it (design.md §8): one version — whatever is installed —
 * recorded as such (source `host`, purl qualifier `host=true`, the binary's sha256). Nothing is downloaded.
 */
export class HostSource implements DependencySource {
  readonly kind = 'host';
  readonly #opts: HostSourceOptions;

  constructor(opts: HostSourceOptions) {
    this.#opts = opts;
  }

  #tool(name: string): HostTool {
    const t = this.#opts.tools[name];
    if (!t) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `the host source knows no tool named ${name}`);
    return t;
  }

  async #locate(name: string): Promise<string> {
    const t = this.#tool(name);
    const env = this.#opts.env ?? process.env;
    for (const dir of (env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
      const candidate = join(dir, t.command);
      try {
        await access(candidate, constants.X_OK);
        return await realpath(candidate);
      } catch {
        // not in this PATH entry
      }
    }
    throw new BuildpackError('DEPENDENCY_UNRESOLVED', `${t.command} is not on the host's PATH (${env['PATH'] ?? ''})`);
  }

  async #version(name: string, path: string): Promise<string> {
    const t = this.#tool(name);
    let out: string;
    const { execa } = await import('execa');
    try {
      const r = await execa(path, t.versionArgs, { env: { ...(this.#opts.env ?? process.env) }, extendEnv: false, timeout: 60_000 });
      out = `${r.stdout}\n${r.stderr}`;
    } catch (err) {
      throw new BuildpackError('DEPENDENCY_FETCH', `${path} ${t.versionArgs.join(' ')} failed: ${(err as Error).message}`, { cause: err });
    }
    const m = t.versionPattern.exec(out);
    if (!m?.[1]) throw new BuildpackError('DEPENDENCY_FETCH', `cannot read a version from "${path} ${t.versionArgs.join(' ')}" (looked for ${t.versionPattern})`);
    return m[1];
  }

  async versions(name: string): Promise<string[]> {
    return [await this.#version(name, await this.#locate(name))];
  }

  async describe(name: string, version: string): Promise<DependencyDescription> {
    return (await this.fetch(name, version)) as DependencyDescription;
  }

  async fetch(name: string, version: string, _dir?: string): Promise<FetchedDependency> {
    const path = await this.#locate(name);
    const found = await this.#version(name, path);
    if (found !== version) throw new BuildpackError('DEPENDENCY_UNRESOLVED', `the host's ${name} is ${found}, not ${version}`);
    const { sha256 } = await hashFile(path, ['sha256']);
    return {
      name,
      version,
      checksum: `sha256:${sha256}`,
      uri: `file://${path}`,
      purl: `pkg:generic/${encodeURIComponent(name)}@${encodeURIComponent(version)}?host=true`,
      licenses: [],
      source: this.kind,
      path,
      sha256,
    };
  }
}
