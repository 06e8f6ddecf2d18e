import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Env, Invocation } from '../buildpack/index.js';
import type { Isolation } from './isolation.js';
import { buildpackImagePath, IMAGE_APP_DIR, IMAGE_BUILDPACKS_DIR, IMAGE_LAYERS_DIR, IMAGE_PLATFORM_DIR, imagePaths, type BuildDirs } from './mounts.js';

export interface SandboxOptions {
  /** Absolute path of `bwrap`. */
  tool: string;
  /** The build image's filesystem, unpacked (with the builder's /cnb): mounted read-only as `/`. */
  rootfs: string;
  /** The stack user buildpacks run as (CNB_USER_ID / CNB_GROUP_ID). */
  uid: number;
  gid: number;
  /** `none`: a private network namespace with nothing in it (not even the host's loopback). Default: the host's network. */
  network?: 'default' | 'none';
  /** The build image's config Env: PATH, HOME and the like replace the host's. */
  imageEnv?: Readonly<Record<string, string>>;
  /** Directories put first on PATH inside (e.g. the builder's `/cnb/node/bin`). */
  extraPath?: readonly string[];
  /** Directories put last on LD_LIBRARY_PATH inside (the node layer's C++ runtime, where the image has none). */
  extraLibraryPath?: readonly string[];
}

/** Variables that name host files or secrets: never passed into the sandbox. */
const HOST_ONLY = /^(CNB_REGISTRY_AUTH|DOCKER_CONFIG|DOCKER_AUTH_CONFIG|REGISTRY_AUTH_FILE|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|NPM_CONFIG_USERCONFIG|NPM_CONFIG_GLOBALCONFIG)$/i;
/** Path lists whose host entries are dropped (entries under /layers and /workspace are the build's own). */
const PATH_LISTS = ['PATH', 'LD_LIBRARY_PATH', 'LIBRARY_PATH', 'CPATH', 'PKG_CONFIG_PATH'];
const OWN = [IMAGE_LAYERS_DIR, IMAGE_APP_DIR, IMAGE_PLATFORM_DIR, IMAGE_BUILDPACKS_DIR];

/**
 * Buildpacks run inside the build image's filesystem (issue 10 "sandbox"): bubblewrap with every namespace
 * unshared (user, mount, pid, ipc, uts, cgroup, and the network with `network: none`), the builder's root
 * read-only, a private /tmp, /proc and /dev, the app dir at /workspace and the layers at /layers read-write,
 * /platform and the buildpack read-only, the stack's uid/gid. The host's files, registry credentials and
 * the host's trust settings stay outside.
 */
export function sandboxIsolation(opts: SandboxOptions): Isolation {
  return {
    mechanism: 'bwrap',
    paths: imagePaths,
    wrap(invocation: Invocation, dirs: BuildDirs): Invocation {
      const args = ['--ro-bind', opts.rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];
      const bind = (flag: '--bind' | '--ro-bind', source: string, target: string) => {
        // The unpacked root is ours: make mount points there, since it is read-only inside.
        if (!target.startsWith('/tmp/')) mkdirSync(join(opts.rootfs, target), { recursive: true });
        args.push(flag, source, target);
      };
      bind('--bind', dirs.appDir, IMAGE_APP_DIR);
      if (dirs.layersDir !== undefined) bind('--bind', dirs.layersDir, IMAGE_LAYERS_DIR);
      if (dirs.platformDir !== undefined) bind('--ro-bind', dirs.platformDir, IMAGE_PLATFORM_DIR);
      if (dirs.buildpack) bind('--ro-bind', dirs.buildpack.dir, buildpackImagePath(dirs.buildpack));
      // Plan files the lifecycle hands over by host path (detect writes one): their directories, at the same path.
      for (const dir of hostFileDirs(invocation)) bind('--bind', dir, dir);
      args.push('--unshare-all');
      if (opts.network !== 'none') args.push('--share-net');
      args.push('--uid', String(opts.uid), '--gid', String(opts.gid), '--hostname', 'lading-sandbox');
      args.push('--chdir', invocation.cwd, '--die-with-parent', '--new-session', '--', invocation.file, ...invocation.args);
      return { file: opts.tool, args, cwd: '/', env: sandboxEnv(invocation.env, opts) };
    },
  };
}

/** The env inside: the host's filtered env minus host paths and secrets, the image's PATH and HOME. */
export function sandboxEnv(env: Readonly<Env>, opts: Pick<SandboxOptions, 'imageEnv' | 'extraPath' | 'extraLibraryPath'>): Env {
  const out: Env = {};
  for (const [k, v] of Object.entries(env)) if (!HOST_ONLY.test(k)) out[k] = v;
  const image = opts.imageEnv ?? {};
  for (const name of PATH_LISTS) {
    const own = (out[name] ?? '').split(':').filter((p) => p !== '' && OWN.some((o) => p === o || p.startsWith(`${o}/`)));
    const base = name === 'PATH'
      ? [...(opts.extraPath ?? []), ...(image['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')]
      : [...(image[name] ?? '').split(':'), ...(name === 'LD_LIBRARY_PATH' ? (opts.extraLibraryPath ?? []) : [])];
    const list = [...own, ...base.filter((p) => p !== '')];
    if (list.length > 0) out[name] = [...new Set(list)].join(':');
    else delete out[name];
  }
  out['HOME'] = image['HOME'] ?? '/home/cnb';
  for (const [k, v] of Object.entries(image)) if (out[k] === undefined && /^(CNB_USER_ID|CNB_GROUP_ID|LANG|LC_ALL|TZ)$/.test(k)) out[k] = v;
  return out;
}

/** Absolute host paths in the args and env that are not image paths and exist here: their directories. */
function hostFileDirs(inv: Invocation): string[] {
  const dirs = new Set<string>();
  const consider = (value: string) => {
    if (!value.startsWith('/') || value.includes(':') || OWN.some((o) => value === o || value.startsWith(`${o}/`))) return;
    const dir = existsSync(value) && statSync(value).isDirectory() ? undefined : dirname(value);
    if (dir && dir !== '/' && existsSync(dir)) dirs.add(dir);
  };
  for (const a of inv.args) consider(a);
  for (const [k, v] of Object.entries(inv.env)) if (/PLAN_PATH$/.test(k)) consider(v);
  return [...dirs].sort();
}
