import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BuildpackError, type Logger } from '../../lib/index.js';
import { parseBuildInfo, type BuildInfo } from './modules-sbom.js';
import type { GoTarget } from './targets.js';

/** The user's Go settings the build honours (read from the process env and the platform's env files). */
export const USER_GO_VARIABLES = [
  'GOPROXY',
  'GOPRIVATE',
  'GONOPROXY',
  'GONOSUMDB',
  'GOSUMDB',
  'GOINSECURE',
  'GOFLAGS',
  'GOAUTH',
  'GOVCS',
  'GOOS',
  'GOARCH',
  'GOAMD64',
  'GOARM',
  'GOARM64',
  'GOEXPERIMENT',
  'GODEBUG',
  'CGO_ENABLED',
  'CGO_CFLAGS',
  'CGO_LDFLAGS',
  'CC',
] as const;

/** The variables among USER_GO_VARIABLES that change the binaries' bytes: part of the reuse key. */
export const OUTPUT_VARIABLES = ['GOFLAGS', 'GOOS', 'GOARCH', 'GOAMD64', 'GOARM', 'GOARM64', 'GOEXPERIMENT', 'CGO_ENABLED', 'CGO_CFLAGS', 'CGO_LDFLAGS', 'CC'] as const;

export interface GoBuildOptions {
  appDir: string;
  goroot: string;
  /** GOPATH (module cache under pkg/mod). */
  gopath: string;
  gocache: string;
  /** The buildpack process's env plus the user's Go variables. */
  env: Readonly<Record<string, string | undefined>>;
  flags: string[];
  outDir: string;
  logger: Logger;
}

const MISSING_MODULE = /GOPROXY=off|no required module provides package|missing go\.sum entry|cannot find module providing|module lookup disabled|dial tcp|no such host|inconsistent vendoring/;

/** The environment `go` runs with: the user's settings, the toolchain, cache dirs, CGO off unless asked. */
export function goEnv(o: Pick<GoBuildOptions, 'env' | 'goroot' | 'gopath' | 'gocache'>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env)) if (v !== undefined) env[k] = v;
  return {
    ...env,
    PATH: [join(o.goroot, 'bin'), env['PATH'] ?? '/usr/bin:/bin'].join(':'),
    GOROOT: o.goroot,
    GOPATH: o.gopath,
    GOMODCACHE: join(o.gopath, 'pkg', 'mod'),
    GOCACHE: o.gocache,
    CGO_ENABLED: env['CGO_ENABLED'] === '1' ? '1' : '0',
    // Never let a go.mod `toolchain` line make go download another toolchain behind the buildpack's back.
    GOTOOLCHAIN: 'local',
  };
}

async function go(args: string[], opts: GoBuildOptions): Promise<{ code: number; output: string }> {
  const r = await execa(join(opts.goroot, 'bin', 'go'), args, { cwd: opts.appDir, env: goEnv(opts), extendEnv: false, all: true, reject: false, timeout: 3_600_000 });
  if ((r as { code?: string }).code === 'ENOENT') throw new BuildpackError('BUILD_FAILED', `${join(opts.goroot, 'bin', 'go')} does not exist: the toolchain layer is incomplete`);
  return { code: r.exitCode ?? 1, output: String(r.all ?? '').trim() };
}

/** Runs `go build` for each target into `outDir/<name>`; a failure shows the compiler's output. */
export async function buildTargets(targets: GoTarget[], opts: GoBuildOptions): Promise<BuildInfo[]> {
  await mkdir(opts.outDir, { recursive: true });
  const infos: BuildInfo[] = [];
  for (const t of targets) {
    const out = join(opts.outDir, t.name);
    const args = ['build', ...opts.flags, '-o', out, t.package];
    opts.logger.info(`  go ${args.join(' ')}`);
    const r = await go(args, opts);
    if (r.code !== 0) {
      const hint = MISSING_MODULE.test(r.output)
        ? '\nA module is neither vendored nor in the module cache: run "go mod vendor" and commit vendor/ (with vendor/modules.txt), or let the build download it by setting GOPROXY (and GOPRIVATE/GONOSUMDB for private modules, GOFLAGS for other go flags), e.g. lading build -e GOPROXY=<your proxy URL>.'
        : '';
      throw new BuildpackError('BUILD_FAILED', `go build ${t.package} failed (exit ${r.code}):\n${r.output}${hint}`);
    }
    // On failure the output is in the error (shown once); on success it may hold warnings worth seeing.
    if (r.output) opts.logger.info(r.output.replace(/^/gm, '    '));
    const v = await go(['version', '-m', out], opts);
    if (v.code !== 0) throw new BuildpackError('BUILD_FAILED', `go version -m ${t.name} failed: ${v.output}`);
    infos.push(parseBuildInfo(v.output));
  }
  return infos;
}
