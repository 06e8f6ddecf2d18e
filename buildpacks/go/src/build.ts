import { access } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BuildpackError,
  PROCESS_TYPE_RE,
  contributeLayer,
  type BuildContext,
  type BuildResult,
  type SbomComponent,
  type TomlTable,
} from '../../lib/index.js';
import { clearAppDir, sourceChecksum } from './app-files.js';
import { buildFlags } from './flags.js';
import { buildTargets, OUTPUT_VARIABLES, USER_GO_VARIABLES } from './go-build.js';
import { readGoMod } from './go-mod.js';
import { binaryComponents } from './modules-sbom.js';
import { findTargets } from './targets.js';
import { goCatalog, resolveToolchain } from './toolchain.js';
import { goVersionRequest } from './version.js';

const exists = (p: string) => access(p).then(() => true, () => false);

/** The run image the binaries need: run-static unless the user turned cgo on (then glibc's run-base). */
export function runImageFlavor(cgoEnabled: string | undefined): 'static' | 'base' {
  return cgoEnabled === '1' ? 'base' : 'static';
}

export async function build(ctx: BuildContext): Promise<BuildResult> {
  const log = ctx.logger;
  const app = ctx.appDir;
  if (!(await exists(join(app, 'go.mod')))) {
    throw new BuildpackError('CONFIG', 'go.mod: not found in the app directory; the Go buildpack builds Go modules (run "go mod init <module path>")');
  }
  const mod = await readGoMod(join(app, 'go.mod'));
  const targets = await findTargets(app, mod.module, ctx.config('BP_GO_TARGETS'));
  const vendored = await exists(join(app, 'vendor', 'modules.txt'));
  const flags = buildFlags({ flags: ctx.config('BP_GO_BUILD_FLAGS'), ldflags: ctx.config('BP_GO_BUILD_LDFLAGS'), vendored });

  const userEnv: Record<string, string> = {};
  for (const k of USER_GO_VARIABLES) {
    const v = ctx.config(k);
    if (v !== undefined) userEnv[k] = v;
  }
  const cgo = userEnv['CGO_ENABLED'] === '1' ? '1' : '0';

  const fallback = typeof ctx.buildpack.metadata['default-version'] === 'string' ? ctx.buildpack.metadata['default-version'] : '1.x';
  const request = goVersionRequest(ctx.config('BP_GO_VERSION'), mod, fallback);
  const catalog = goCatalog(ctx.buildpack.metadata, { uri: ctx.config('BP_GO_DIST_URI'), sha256: ctx.config('BP_GO_DIST_SHA256'), version: ctx.config('BP_GO_VERSION') });
  const toolchain = await resolveToolchain(request, { kind: ctx.config('BP_GO_TOOLCHAIN'), catalog, env: ctx.env, layers: ctx.layers });
  log.info(`Go ${toolchain.version} from ${toolchain.source} (${request.source}: ${request.constraint})`);
  await toolchain.fetch(ctx.layers, log);

  // Kept across builds (cache=true) whether or not go build runs, so a later change starts warm.
  const gopath = await ctx.layers.layer('go-mod', { cache: true });
  const gocache = await ctx.layers.layer('go-cache', { cache: true });

  const outputEnv: TomlTable = {};
  for (const k of OUTPUT_VARIABLES) outputEnv[k] = k === 'CGO_ENABLED' ? cgo : (userEnv[k] ?? '');
  const expected: TomlTable = {
    sources: await sourceChecksum(app),
    toolchain: toolchain.key,
    flags,
    targets: targets.map((t) => `${t.name}=${t.package}`),
    env: outputEnv,
  };

  const { layer: bin, reused } = await contributeLayer(
    ctx.layers,
    'targets',
    {
      types: { launch: true },
      expected,
      build: async (l) => {
        let goroot: string;
        if (toolchain.source === 'host') goroot = await toolchain.install(l);
        else {
          const { layer: goLayer } = await contributeLayer(
            ctx.layers,
            'go',
            { types: { build: true }, expected: toolchain.key, build: async (g) => void (g.metadata['goroot'] = await toolchain.install(g)) },
            log,
          );
          goroot = String(goLayer.metadata['goroot'] ?? '');
        }
        const infos = await buildTargets(targets, { appDir: app, goroot, gopath: gopath.path, gocache: gocache.path, env: { ...ctx.env, ...userEnv }, flags, outDir: join(l.path, 'bin'), logger: log });
        const components = await binaryComponents(infos, app, join(gopath.path, 'pkg', 'mod'));
        l.metadata['sbom'] = JSON.stringify(components);
        l.metadata['go-version'] = infos[0]?.goVersion ?? '';
      },
    },
    log,
  );
  if (reused) log.info(`  Sources, go.mod/go.sum, flags and toolchain unchanged: not running go build`);
  const components = JSON.parse(typeof bin.metadata['sbom'] === 'string' ? bin.metadata['sbom'] : '[]') as SbomComponent[];
  await bin.writeSbom(components);
  await ctx.layers.writeSbom('build', toolchain.components);

  const kept = await clearAppDir(app, ctx.config('BP_KEEP_FILES'));
  log.info(`  Removed the source from the app dir${kept.length ? `, kept ${kept.length} file(s) matching BP_KEEP_FILES` : ''}`);

  return {
    processes: targets.map((t, i) => {
      if (!PROCESS_TYPE_RE.test(t.name)) throw new BuildpackError('CONFIG', `binary ${t.name} (${t.package}) is not a valid process type name (${PROCESS_TYPE_RE})`);
      return { type: t.name, command: [join(bin.path, 'bin', t.name)], default: i === 0 };
    }),
    labels: [{ key: 'io.lading.run-image', value: runImageFlavor(cgo) }],
  };
}
