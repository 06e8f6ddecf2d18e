import { readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { BuildpackError } from '../errors.js';
import { noteFreshUntil } from '../replay.js';
import { type TomlTable } from '../toml-file.js';
import { AnswerMemo, sharedAnswersDir } from './answer-memo.js';

type Env = Readonly<Record<string, string | undefined>>;

/** `${VAR}` / `${VAR?}` expansion as npm applies it to npmrc keys and values. */
function expand(text: string, env: Env, file: string): string {
  return text.replace(/(\\*)\$\{([^}?]+)(\?)?\}/g, (whole, escapes: string, name: string, optional?: string) => {
    if (escapes.length % 2 === 1) return whole.slice(1);
    const v = env[name];
    if (v === undefined && !optional) throw new BuildpackError('CONFIG', `${file}: \${${name}} is not set`);
    return `${escapes}${v ?? ''}`;
  });
}

/** Parses npmrc (ini) text into key → value; sections and `key[]` arrays are not used by the keys we read. */
export function parseNpmrc(text: string, env: Env, file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith(';') || trimmed.startsWith('#') || trimmed.startsWith('[')) continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) continue;
    const key = expand(trimmed.slice(0, eq).trim(), env, file);
    let value = trimmed.slice(eq + 1).trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    out.set(key, expand(value, env, file));
  }
  return out;
}

/** The npm settings a download needs: registry, scoped registries, auth by URL, trust. */
export class NpmConfig {
  readonly #values: Map<string, string>;
  /** Files that were read, lowest precedence first (for messages). */
  readonly files: readonly string[];

  constructor(values: Map<string, string>, files: readonly string[] = []) {
    this.#values = values;
    this.files = files;
  }

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  /** The registry for a package (its scope's registry when configured), with a trailing slash. */
  registryFor(name: string): string {
    const scope = name.startsWith('@') ? name.split('/')[0] : undefined;
    const reg = (scope && this.get(`${scope}:registry`)) || this.get('registry');
    if (!reg) throw new BuildpackError('CONFIG', `no npm registry configured (read: ${this.files.join(', ') || 'no npmrc'}); set "registry" in an npmrc`);
    return reg.endsWith('/') ? reg : `${reg}/`;
  }

  /**
   * The Authorization header for a URL: the credentials whose `//host/path/` key is the longest prefix of the
   * URL (npm's "nerf dart" rule); legacy top-level `_authToken`/`_auth` apply to the default registry only.
   */
  authorizationFor(url: string): string | undefined {
    const u = new URL(url);
    const target = `//${u.host}${u.pathname}`;
    let best: { prefix: string; header: string } | undefined;
    const prefixes = new Set<string>();
    for (const key of this.#values.keys()) {
      const m = /^(\/\/.+?):(_authToken|_auth|username|_password)$/.exec(key);
      if (m) prefixes.add(m[1] as string);
    }
    for (const prefix of prefixes) {
      const norm = prefix.endsWith('/') ? prefix : `${prefix}/`;
      if (!`${target}`.startsWith(norm) && `${target}/` !== norm) continue;
      const header = this.#header(`${prefix}:`);
      if (header && (!best || norm.length > best.prefix.length)) best = { prefix: norm, header };
    }
    if (best) return best.header;
    const reg = this.get('registry');
    if (reg && url.startsWith(reg.endsWith('/') ? reg : `${reg}/`)) return this.#header('');
    return undefined;
  }

  #header(prefix: string): string | undefined {
    const token = this.get(`${prefix}_authToken`);
    if (token) return `Bearer ${token}`;
    const auth = this.get(`${prefix}_auth`);
    if (auth) return `Basic ${auth}`;
    const user = this.get(`${prefix}username`);
    const pass = this.get(`${prefix}_password`);
    if (user && pass) return `Basic ${Buffer.from(`${user}:${Buffer.from(pass, 'base64').toString('utf8')}`).toString('base64')}`;
    return undefined;
  }

  /** PEM certificates from `cafile` and `ca`; undefined when neither is set (Node's roots then apply). */
  async certificateAuthorities(): Promise<string[] | undefined> {
    const out: string[] = [];
    const cafile = this.get('cafile');
    if (cafile && cafile !== 'null') {
      try {
        out.push(await readFile(cafile, 'utf8'));
      } catch (err) {
        throw new BuildpackError('CONFIG', `npm cafile ${cafile} cannot be read: ${(err as Error).message}`, { cause: err });
      }
    }
    const ca = this.get('ca');
    if (ca && ca !== 'null') out.push(ca.replace(/\\n/g, '\n'));
    return out.length ? out : undefined;
  }

  get strictSsl(): boolean {
    return this.get('strict-ssl') !== 'false';
  }
}

export interface NpmConfigOptions {
  env?: Env;
  /** The project's directory: its `.npmrc` has precedence over the user's. */
  projectDir?: string;
  /** Ask `npm config get registry` when no npmrc names a registry (npm knows its own default). Default true. */
  askNpm?: boolean;
  /**
   * Where npm's answer is kept between builds (a cache layer's metadata, as `NpmSource.cached` passes it):
   * starting npm costs ~0.15 s of every rebuild. The answer is reused while the same npm executable (path,
   * size, time) would give it and for at most `maxAge` seconds.
   */
  memo?: TomlTable;
  /**
   * The machine's answers behind `memo` (AnswerMemo), shared by every build on the machine; default
   * `<DOWNLOAD_STORE_ENV>/answers` when `env` offers the platform's store. Unused without `memo`.
   */
  sharedAnswers?: string;
  /** Seconds a kept answer is used (default 3600; 0: ask npm every time). */
  maxAge?: number;
  /** Clock in seconds (tests). */
  now?: () => number;
}

/** The memo key of npm's default registry. */
const DEFAULT_REGISTRY_MEMO = 'npm-default-registry';

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw new BuildpackError('CONFIG', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The user's effective npm configuration, read the way npm reads it: global npmrc < user npmrc < project
 * `.npmrc` < `npm_config_*` variables. The file locations come from NPM_CONFIG_GLOBALCONFIG /
 * NPM_CONFIG_USERCONFIG (the lifecycle forwards them to buildpacks), else `<prefix>/etc/npmrc` and `~/.npmrc`.
 */
export async function loadNpmConfig(opts: NpmConfigOptions = {}): Promise<NpmConfig> {
  const env = opts.env ?? process.env;
  const envConfig = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === '' || !/^npm_config_/i.test(k)) continue;
    let key = k.slice('npm_config_'.length);
    if (!key.startsWith('//')) key = key.replace(/(?!^)_/g, '-').toLowerCase();
    envConfig.set(key, v);
  }
  const prefix = envConfig.get('prefix') ?? dirname(dirname(process.execPath));
  const globalFile = envConfig.get('globalconfig') ?? join(prefix, 'etc', 'npmrc');
  const home = env['HOME'] ?? homedir();
  const userFile = envConfig.get('userconfig') ?? join(home, '.npmrc');
  const files = [globalFile, userFile, ...(opts.projectDir ? [join(opts.projectDir, '.npmrc')] : [])];
  const merged = new Map<string, string>();
  const read: string[] = [];
  for (const file of files) {
    const text = await readIfPresent(file);
    if (text === undefined) continue;
    read.push(file);
    for (const [k, v] of parseNpmrc(text, env, file)) merged.set(k, v);
  }
  for (const [k, v] of envConfig) merged.set(k, v);
  if (!merged.get('registry') && opts.askNpm !== false) {
    const registry = await memoizedDefaultRegistry(env, opts);
    if (registry) merged.set('registry', registry);
  }
  return new NpmConfig(merged, read);
}

/**
 * What identifies the npm that would answer: the resolved `npm` on PATH and its built-in npmrc (path, size,
 * modification time); undefined when there is no npm on PATH.
 */
async function npmIdentity(env: Env): Promise<string | undefined> {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      const exe = await realpath(join(dir, 'npm'));
      const s = await stat(exe);
      if (!s.isFile()) continue;
      const builtin = join(dirname(dirname(exe)), 'npmrc');
      const b = await stat(builtin).catch(() => undefined);
      return [exe, s.size, s.mtimeMs, ...(b ? [builtin, b.size, b.mtimeMs] : [])].join(' ');
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

async function memoizedDefaultRegistry(env: Env, opts: NpmConfigOptions): Promise<string | undefined> {
  const memo = opts.memo;
  const maxAge = opts.maxAge ?? 3600;
  if (!memo || maxAge <= 0) return npmDefaultRegistry(env);
  const npm = await npmIdentity(env);
  if (npm === undefined) return npmDefaultRegistry(env);
  const now = (opts.now ?? (() => Math.floor(Date.now() / 1000)))();
  const answers = new AnswerMemo(memo, opts.sharedAnswers ?? sharedAnswersDir(env));
  // The machine may hold several npms' answers: its key names the npm, the build's table keeps one.
  const machineKey = `${DEFAULT_REGISTRY_MEMO} ${npm}`;
  const known = await answers.get(
    DEFAULT_REGISTRY_MEMO,
    (e) => {
      if (e['npm'] !== npm || typeof e['registry'] !== 'string' || typeof e['at'] !== 'number' || e['at'] > now || now - e['at'] >= maxAge) return undefined;
      noteFreshUntil(e['at'] + maxAge); // a replay of this build is good only as long as this answer
      return e['registry'];
    },
    machineKey,
  );
  if (known !== undefined) return known;
  const registry = await npmDefaultRegistry(env);
  if (registry) await answers.set(DEFAULT_REGISTRY_MEMO, { registry, npm, at: now }, machineKey);
  else delete memo[DEFAULT_REGISTRY_MEMO];
  return registry;
}

async function npmDefaultRegistry(env: Env): Promise<string | undefined> {
  try {
    const { execa } = await import('execa');
    const { stdout } = await execa('npm', ['config', 'get', 'registry'], { env: { ...env }, extendEnv: false, timeout: 30_000 });
    const value = stdout.trim();
    return /^https?:\/\//.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
