import { dirname, join } from 'node:path';
import { applyEnvFiles, type Env, type EnvFile } from './env-files.js';
import { PATH_LIST_SEPARATOR, POSIX_PATH_VARS, prependPathList } from './layer-env.js';

/**
 * Host variables a buildpack process inherits: the Go lifecycle's list (HOME, HOSTNAME, proxies in either
 * case, the POSIX path variables, CNB_STACK_ID) plus the trust settings lading forwards for downloads
 * (design.md §7). Everything else, in particular registry credentials (CNB_REGISTRY_AUTH, DOCKER_CONFIG,
 * REGISTRY_AUTH_FILE), stays out.
 */
const HOST_ENV_ALLOWED: ReadonlySet<string> = new Set([
  'HOME',
  'HOSTNAME',
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'NO_PROXY',
  'no_proxy',
  'CNB_STACK_ID',
  ...POSIX_PATH_VARS,
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
]);

/**
 * The user's pip configuration (design.md §7), for buildpacks that run pip: index and find-links settings, TLS
 * settings, an explicit config file, and the XDG locations pip reads its user and site pip.conf from (HOME is
 * kept above, so ~/.config/pip/pip.conf and ~/.pip/pip.conf are found as well; /etc/pip.conf is on the host).
 */
const PIP_CONFIG_ALLOWED: ReadonlySet<string> = new Set([
  'PIP_INDEX_URL',
  'PIP_EXTRA_INDEX_URL',
  'PIP_FIND_LINKS',
  'PIP_NO_INDEX',
  'PIP_TRUSTED_HOST',
  'PIP_CERT',
  'PIP_CLIENT_CERT',
  'PIP_CONFIG_FILE',
  'XDG_CONFIG_HOME',
  'XDG_CONFIG_DIRS',
]);

/** npm reads its configuration from `npm_config_*` variables in any case. */
const NPM_CONFIG_RE = /^npm_config_/i;

export interface HostEnvOptions {
  /** The node executable running lading (`process.execPath`), from which npm derives its global prefix. */
  execPath?: string;
  /** Prepend the directory of `execPath` to PATH, so host-mode buildpacks written in node find it (design.md §8). */
  nodeOnPath?: boolean;
}

/**
 * The filtered host environment given to `/bin/detect` and `/bin/build` (buildpack.md "Security
 * Considerations": buildpacks never see registry credentials). Adds the user's effective npm configuration
 * as file paths — NPM_CONFIG_USERCONFIG and NPM_CONFIG_GLOBALCONFIG — because an npm installed into a layer has
 * a different prefix and would otherwise miss the host's global npmrc (its registry, cafile and auth).
 */
export function filterHostEnv(host: Readonly<Record<string, string | undefined>>, opts: HostEnvOptions = {}): Env {
  const env: Env = {};
  for (const [k, v] of Object.entries(host)) {
    if (v === undefined) continue;
    if (HOST_ENV_ALLOWED.has(k) || NPM_CONFIG_RE.test(k) || PIP_CONFIG_ALLOWED.has(k)) env[k] = v;
  }
  if (opts.nodeOnPath && opts.execPath) {
    const bin = dirname(opts.execPath);
    if (!(env['PATH'] ?? '').split(PATH_LIST_SEPARATOR).includes(bin)) Object.assign(env, prependPathList(env, 'PATH', bin));
  }
  const npm = npmConfigFiles(host, opts.execPath);
  if (npm.userconfig) env['NPM_CONFIG_USERCONFIG'] = npm.userconfig;
  env['NPM_CONFIG_GLOBALCONFIG'] = npm.globalconfig;
  for (const k of Object.keys(env)) {
    if (k !== 'NPM_CONFIG_USERCONFIG' && k !== 'NPM_CONFIG_GLOBALCONFIG' && /^npm_config_(user|global)config$/i.test(k)) delete env[k];
  }
  return env;
}

/**
 * Where the host's npm reads its user and global npmrc, the way npm decides: an explicit
 * `npm_config_userconfig` / `npm_config_globalconfig` (any case) wins; otherwise `~/.npmrc` and
 * `<prefix>/etc/npmrc`, with prefix from `npm_config_prefix` or the parent of the node binary's directory.
 */
export function npmConfigFiles(host: Readonly<Record<string, string | undefined>>, execPath?: string): { userconfig?: string; globalconfig: string } {
  const get = (name: string) => {
    for (const [k, v] of Object.entries(host)) if (v && k.toLowerCase() === `npm_config_${name}`) return v;
    return undefined;
  };
  const home = host['HOME'];
  const userconfig = get('userconfig') ?? (home ? join(home, '.npmrc') : undefined);
  const prefix = get('prefix') ?? dirname(dirname(execPath ?? '/usr/bin/node'));
  const globalconfig = get('globalconfig') ?? join(prefix, 'etc', 'npmrc');
  return userconfig === undefined ? { globalconfig } : { userconfig, globalconfig };
}

/** Target of the build (the run image's os/arch/variant/distro). */
export interface TargetEnvInput {
  os?: string;
  arch?: string;
  variant?: string;
  distro?: { name?: string; version?: string };
}

/** `CNB_TARGET_*` variables describing the run image (buildpack.md "Targets"); unknown fields are left out. */
export function targetEnv(t: TargetEnvInput): Env {
  const env: Env = {};
  const set = (k: string, v: string | undefined) => {
    if (v) env[k] = v;
  };
  set('CNB_TARGET_OS', t.os);
  set('CNB_TARGET_ARCH', t.arch);
  set('CNB_TARGET_ARCH_VARIANT', t.variant);
  set('CNB_TARGET_DISTRO_NAME', t.distro?.name);
  set('CNB_TARGET_DISTRO_VERSION', t.distro?.version);
  return env;
}

export interface PlatformEnvOptions {
  /** User-provided variables from `<platform>/env/` (file name → contents). */
  platformEnv: Readonly<Env>;
  /** `clear-env = true` in buildpack.toml: the user's variables are not set (the files stay readable). */
  clearEnv: boolean;
  /** Operator variables from `<build-config>/env/`, read with `default` as the no-suffix action. */
  buildConfigEnv?: readonly EnvFile[];
}

/**
 * Applies the platform's variables on top of a buildpack's env (buildpack.md "Provided by the Platform",
 * platform.md "User-Provided Variables", "Operator-Defined Variables"): unless clear-env is set, user values
 * are prepended to POSIX path variables and replace all others; operator values are then applied with the
 * modification rules, after the buildpack-provided values.
 */
export function withPlatformEnv(env: Readonly<Env>, opts: PlatformEnvOptions): Env {
  let out: Env = { ...env };
  if (!opts.clearEnv) {
    for (const [k, v] of Object.entries(opts.platformEnv)) {
      out = POSIX_PATH_VARS.has(k) ? prependPathList(out, k, v) : { ...out, [k]: v };
    }
  }
  if (opts.buildConfigEnv) out = applyEnvFiles(out, opts.buildConfigEnv);
  return out;
}
