import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LadingError, isLadingError, type ContentSource } from '../../../registry/oci/index.js';
import { familiarName, formatReference, parseReference, withDefaultTag, type ImageReference } from '../../../registry/reference.js';
import { openSink, openSource, type OpenOptions } from '../../../registry/open.js';
import { setDeflateProbeCache } from '../../../registry/layers/index.js';
import { openStoreSource, storeHome } from '../../../registry/layout/index.js';
import {
  DetectError, loadBuildpackCatalog, readBuildpackDescriptor, type BuildpackSource, type Env, type Order,
} from '../../buildpack/index.js';
import { DirCache, ImageCache, type LayerCache } from '../../cache/index.js';
import { availableIsolation } from '../../isolation/index.js';
import {
  checkAppDir, create, creationTime, defaultBuilderDir, ensureStack, inlineBuildpackDir, orderOfBuildpacks, parseBindingVolume, runImageSet, withPrePost,
  BuildpackFailedError, type CreateInput,
} from '../../phase/index.js';
import {
  loadBuilderCatalog, readBuilderConfig, readProjectDescriptor, type BuilderConfig, type ProjectBuildpackRef, type ProjectDescriptor,
} from '../../platform/index.js';
import { humanSize, shortDigest, type Output } from '../output.js';
import { globalOpenOptions, type CommandContext } from '../context.js';
import type { BuildArgs } from './build.js';
import { selectBuilder } from './builder-select.js';

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}


/** `lading build`: resolves the flags into the creator's input, runs it, prints the result. */
export async function runBuild(ctx: CommandContext, given: BuildArgs): Promise<void> {
  const args = lastOfRepeated(given);
  const out = ctx.output(args);
  const env = ctx.terminal.env;
  const options = globalOpenOptions(args, ctx);
  const appDir = resolve(args.path ?? process.cwd());
  await checkAppDir(appDir);
  // The deflate engine's self-probe is answered from LADING_HOME/cache after the first build on this Node and CPU.
  setDeflateProbeCache(join(storeHome({ env }), 'cache'));
  if (args['cache-dir'] && args['cache-image']) throw new LadingError('USAGE', 'use --cache-dir or --cache-image, not both');
  const dest = destination(args);
  const project = await readProjectDescriptor(appDir);
  // -B: a builder directory or image; an untrusted image runs its buildpacks sandboxed (builder-select.ts).
  const selected = args.builder ? await selectBuilder({ builder: args.builder, ...pick(args, 'isolation', 'trust-builder', 'network') }, options, env, out) : undefined;
  if (!selected && (args.isolation === 'sandbox' || args.network === 'none')) throw new LadingError('USAGE', `--${args.isolation === 'sandbox' ? 'isolation sandbox' : 'network none'} needs -B with a builder whose build image the buildpacks run in`);
  if (selected?.isolation && (args.workspace !== undefined || args['layers-dir'] !== undefined)) throw new LadingError('USAGE', '--workspace/--layers-dir build without a namespace; a sandboxed build always has one');
  const builder = selected?.config;
  // The namespace probe (a bwrap trial run, ~0.1 s, remembered in LADING_HOME/cache once it passed) starts now
  // and overlaps opening the images; create() awaits the same memoized promise and reports its failure.
  const probeMemoDir = join(storeHome({ env }), 'cache');
  if (!selected?.isolation && args.workspace === undefined) availableIsolation({ memoDir: probeMemoDir }).catch(() => undefined);
  // Without -B: the default builder (stacks/bookworm/builder.toml) gives the buildpacks when none are named, and its stack the run images.
  const defaultBuilder = builder ? undefined : await readBuilderConfig(defaultBuilderDir());
  const named = (args.buildpack ?? []).length > 0 || (project?.group ?? []).length > 0;
  const { catalog, order } = await resolveBuildpacks(args.buildpack ?? [], builder ?? (named ? undefined : defaultBuilder), project, appDir, join(storeHome({ env }), 'cache', 'inline-buildpacks'));
  const runBuilder = (builder ?? defaultBuilder)!;
  if (!args['run-image'] && defaultBuilder) await ensureDefaultStack(defaultBuilder.dir, out, env);
  const runImages = args['run-image'] ? { base: { image: args['run-image'], mirrors: [] } } : runImageSet(runBuilder.runImages, runBuilder.file);
  if (!runImages) {
    throw new LadingError('USAGE', `no run image: pass --run-image REF, or -B with a builder whose builder.toml has [run] images (${runBuilder.file} has none)`);
  }
  const platformEnv = await userEnv(args, project, env);
  const bindings = (args.volume ?? []).map((v) => parseBindingVolume(v));
  const created = creationTime(env, parseCreationTime(args['creation-time']));
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  // Once: a second Ctrl-C gets Node's default handling and ends lading at once.
  process.once('SIGINT', onSigint);
  const closers: { close(): Promise<void> }[] = selected ? [selected] : [];
  let sbomAttach: Promise<typeof import('./sbom-attach.js')> | undefined;
  try {
    const runImage = async (r: { image: string; mirrors: string[] }) => {
      const source = await openSource(parseReference(r.image), options);
      closers.push(source);
      return { source, image: r.image, mirrors: r.mirrors };
    };
    const runBase = await runImage(runImages.base);
    const runStatic = 'static' in runImages && runImages.static ? await runImage(runImages.static) : undefined;
    const previous = await previousImage(args, dest, options, env);
    if (previous) closers.push(previous);
    const cache = await openCache(args, options, out);
    const sink = await openSink(dest, options);
    if (builder?.buildImage && !selected?.isolation) out.debug(`builder ${builder.file}: build image ${builder.buildImage} recorded; buildpacks run on this machine`);
    const input: CreateInput = {
      appDir,
      ...(project ? { project } : {}),
      catalog,
      order,
      runImage: runBase,
      // --run-image is used as given; a builder's run images are chosen from after the build (io.lading.run-image).
      ...(args['run-image'] ? {} : { runImageChoice: runStatic ? { static: runStatic } : {} }),
      ...(previous ? { previousImage: previous } : {}),
      sink,
      tags: [tagOf(dest)],
      ...(cache ? { cache } : {}),
      clearCache: args['clear-cache'] ?? false,
      platformEnv,
      bindings,
      runPackagesCacheDir: join(storeHome({ env }), 'cache', 'run-packages'),
      probeMemoDir,
      // Machine-wide stores that take buildpacks at their word: for trusted (host-run) buildpacks only.
      ...(selected?.isolation
        ? {}
        : {
            downloadStoreDir: join(storeHome({ env }), 'cache', 'downloads'),
            layerDigestsDir: join(storeHome({ env }), 'cache', 'layer-digests'),
            layerTreesDir: join(storeHome({ env }), 'cache', 'layer-trees'),
          }),
      blobCacheDir: join(storeHome({ env }), 'cache', 'layer-blobs'),
      ...(builder ? { buildConfigEnv: builder.buildEnv } : {}),
      hostEnv: env,
      ...(selected?.isolation ? { isolation: selected.isolation } : {}),
      ...(args.workspace !== undefined ? { workspace: resolve(args.workspace) } : {}),
      ...(args['layers-dir'] !== undefined ? { layersDir: resolve(args['layers-dir']) } : {}),
      created,
      ...(args['default-process'] ? { defaultProcess: args['default-process'] } : {}),
      ...(args['report-output-dir'] ? { reportDir: resolve(args['report-output-dir']) } : {}),
      ...(args['sbom-output-dir'] ? { sbomDir: resolve(args['sbom-output-dir']) } : {}),
      signal: controller.signal,
      onPhase: (phase, event, seconds) => {
        if (event === 'start') out.log(`===> ${phase.toUpperCase()}`);
        else out.debug(`     ${phase} took ${seconds}s`);
      },
      onDetectRun: (run) => {
        if (out.verbose && run.output.trim()) out.log(indent(`${run.id}@${run.version} (${run.status}):\n${run.output.trimEnd()}`));
      },
      // the image SBOM's code (and the SBOM libraries) loads while the first buildpack runs, not before it
      // starts (~15 ms of module evaluation) nor after export
      onBuildSpawn: () => {
        if (args.sbom !== 'none') sbomAttach ??= import('./sbom-attach.js');
      },
      onOutput: (_bp, chunk) => ctx.terminal.stderr.write(chunk),
      onWarning: (message) => out.log(`warning: ${message}`),
      onRunImage: (image, choice) => out.log(`Run image: ${image}${choice ? ` (${choice.flavor}: ${choice.reason})` : ''}`),
    };
    let result;
    try {
      result = await create(input);
    } catch (err) {
      if (err instanceof DetectError && !out.verbose) {
        for (const run of err.runs) if (run.output.trim()) out.log(indent(`${run.id}@${run.version} (${run.status}):\n${run.output.trimEnd()}`));
      }
      if (err instanceof BuildpackFailedError) out.debug(`buildpack ${err.buildpack.id} exited with code ${err.exitCode}`);
      throw err;
    }
    const { exported, durations } = result;
    for (const t of result.layerTrees.offered) out.debug(`layer tree store: offered ${t.buildpack}:${t.layer} (${t.key.slice(0, 12)})`);
    for (const t of result.layerTrees.kept) out.debug(`layer tree store: kept ${t.buildpack}:${t.layer} (${t.key.slice(0, 12)})`);
    const sbom = args.sbom === 'none' ? undefined : await (await (sbomAttach ??= import('./sbom-attach.js'))).attachImageSbom({
      dest, name: args.image, digest: exported.digest, exported, options, onWarning: (m) => out.log(`warning: ${m}`), osPackagesDir: join(storeHome({ env }), 'cache', 'os-packages'),
      ...(args['sbom-output-dir'] ? { sbomDir: resolve(args['sbom-output-dir']) } : {}),
    });
    // Loaded only when signing: the signing modules (@sigstore/sign and its dependencies) cost start-up time.
    const signed = args['sign-key'] ? await (await import('./sign-build.js')).signBuild(ctx, args, dest, exported.digest, { appDir, durations }) : undefined;
    if (out.json) {
      out.result({
        image: args.image,
        digest: exported.digest,
        runImage: { image: result.analyzed.runImage.name, reference: result.analyzed.runImage.reference },
        layers: exported.layers.map((l) => ({ name: l.name, diffId: l.diffId, digest: l.digest, size: l.size, reused: l.reused, ...(l.recalled ? { recalled: true } : {}) })),
        uploaded: exported.uploaded,
        ...(sbom ? { sbom: { packages: sbom.packages, referrers: sbom.referrers.map((r) => ({ digest: r.digest, artifactType: r.artifactType })) } } : {}),
        durations,
        ...(signed ? { signatures: signed.signatures } : {}),
      });
    } else {
      for (const l of exported.layers) out.debug(`  ${l.reused ? 'reused ' : 'written'} ${l.name} ${shortDigest(l.digest)} ${humanSize(l.size)}${l.recalled ? ' (not packed: sealed by its buildpack, seen before)' : ''}`);
      const reused = exported.layers.filter((l) => l.reused).length;
      out.print(`Built ${args.image}@${exported.digest} (${exported.layers.length} layers, ${reused} reused; ${exported.uploaded} blobs sent)`);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await Promise.all(closers.map((c) => c.close().catch(() => undefined)));
  }
}

/** The default builder's stack in the local store, built on first use (it takes a while: say so). */
async function ensureDefaultStack(dir: string, out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  await ensureStack(dir, {
    env,
    build: {
      onEvent: (e) => {
        if (e.type === 'download') out.log(`  downloading ${e.packages} Debian packages through apt`);
        else if (e.type === 'layer') out.log(`  ${e.image}: ${e.files} files`);
      },
    },
    onEvent: (e) => {
      if (e.type === 'build') out.log(`Building the default stack ${e.stack} into the local store (${e.reason}; once, from ${dir}/stack.lock)`);
      else if (e.type === 'wait') out.log(`Waiting for another lading building the default stack (${e.lock})`);
      else if (e.type === 'built') out.log(`Built ${e.images.map((i) => `${i.name} ${shortDigest(i.digest)}`).join(', ')}`);
      else out.debug(`default stack ${e.stack}: reusing the local store's images`);
    },
  });
}

/** Where the image goes: the local store by default, its registry with `--publish`, or a transport. */
function destination(args: BuildArgs): ImageReference {
  const ref = parseReference(args.image);
  if (ref.transport === 'store') return args.publish ? withDefaultTag(ref.name) : { transport: 'store', name: withDefaultTag(ref.name) };
  if (args.publish && ref.transport !== 'docker') throw new LadingError('USAGE', `--publish pushes to a registry; "${args.image}" is not a registry reference`);
  return ref.transport === 'docker' ? withDefaultTag(ref) : ref;
}

function tagOf(ref: ImageReference): string {
  if (ref.transport === 'store') return familiarName(ref.name);
  if (ref.transport === 'docker') return familiarName(ref);
  return formatReference(ref);
}

/**
 * The order and the buildpacks it can use: `-b` (directories or ids the builder has) as one group; else
 * project.toml's group; else the builder's order.
 */
async function resolveBuildpacks(
  refs: readonly string[], builder: BuilderConfig | undefined, project: ProjectDescriptor | undefined, appDir: string, inlineRoot: string,
): Promise<{ catalog: BuildpackSource; order: Order }> {
  // project.toml refs: a uri, id[@version], or an inline script made into a buildpack directory.
  const projectRefs = (list: readonly ProjectBuildpackRef[]) =>
    Promise.all(list.map(async (g) => ({ text: g.script ? await inlineBuildpackDir(g, inlineRoot) : (g.uri ?? (g.version ? `${g.id}@${g.version}` : g.id!)), base: appDir })));
  const given = refs.length > 0 ? refs.map((r) => ({ text: r, base: process.cwd() })) : await projectRefs(project?.group ?? []);
  const dirs: string[] = [];
  const collect = async (list: readonly { text: string; base: string }[]) => {
    const members: { id: string; version?: string }[] = [];
    for (const { text, base } of list) {
      const path = resolve(base, text.replace(/^file:\/\//, ''));
      if (await isDir(path)) {
        const bp = await readBuildpackDescriptor(path);
        dirs.push(path);
        members.push({ id: bp.info.id, version: bp.info.version });
      } else if (/^[./]/.test(text) || text.startsWith('file://')) {
        throw new LadingError('NOT_FOUND', `buildpack directory ${path} does not exist`);
      } else {
        const at = text.lastIndexOf('@');
        members.push(at > 0 ? { id: text.slice(0, at), version: text.slice(at + 1) } : { id: text });
      }
    }
    return members;
  };
  const members = await collect(given);
  const pre = await collect(await projectRefs(project?.pre ?? []));
  const post = await collect(await projectRefs(project?.post ?? []));
  const catalog = builder ? await loadBuilderCatalog(builder, dirs) : await loadBuildpackCatalog(dirs);
  for (const m of [...members, ...pre, ...post]) {
    try {
      catalog.findBuildpack(m.id, m.version);
    } catch (err) {
      throw new LadingError('NOT_FOUND', `unknown buildpack ${m.id}${m.version ? `@${m.version}` : ''}: ${(err as Error).message}${builder ? '' : ' (pass a buildpack directory, or -B with a builder that has it)'}`, { cause: err });
    }
  }
  const entries = (list: typeof members) => (list.length > 0 ? (orderOfBuildpacks(list)[0] ?? []) : []);
  let order: Order;
  if (members.length > 0) {
    order = orderOfBuildpacks(members);
  } else {
    if (!builder) throw new LadingError('USAGE', 'no buildpacks: pass -b DIR (repeatable) or -B with a builder directory');
    if (builder.order.length === 0) throw new LadingError('CONTENT_INVALID', `${builder.file}: has no [[order]]`);
    order = builder.order;
  }
  return { catalog, order: withPrePost(order, entries(pre), entries(post)) };
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** User variables, later winning: project.toml build env, `--env-file`, `-e` (K=V, or K from this environment). */
async function userEnv(args: BuildArgs, project: ProjectDescriptor | undefined, host: NodeJS.ProcessEnv): Promise<Env> {
  const env: Env = {};
  for (const { name, value } of project?.buildEnv ?? []) env[name] = value;
  if (args['env-file']) {
    const file = resolve(args['env-file']);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'IO';
      throw new LadingError(code, `--env-file ${file}: ${(err as Error).message}`, { cause: err });
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '' || line.trimStart().startsWith('#')) return;
      setVar(env, line, host, `${file}:${i + 1}`);
    });
  }
  for (const e of args.env ?? []) setVar(env, e, host, '-e');
  return env;
}

function setVar(env: Env, text: string, host: NodeJS.ProcessEnv, where: string): void {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text.trim() : text.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new LadingError('USAGE', `${where}: "${text}" is not K=V with a valid variable name`);
  if (eq >= 0) env[name] = text.slice(eq + 1);
  else if (host[name] !== undefined) env[name] = host[name]!;
}

function parseCreationTime(value: string | undefined): 'now' | number | undefined {
  if (value === undefined) return undefined;
  if (value === 'now') return 'now';
  if (/^\d+$/.test(value)) return Number(value);
  throw new LadingError('USAGE', `--creation-time "${value}": give seconds since the epoch or "now"`);
}

/** The image this build replaces: `--previous-image`, else the destination itself read from where it is written. */
async function previousImage(args: BuildArgs, dest: ImageReference, options: OpenOptions, env: NodeJS.ProcessEnv): Promise<ContentSource | undefined> {
  try {
    if (args['previous-image']) return await openSource(parseReference(args['previous-image']), options);
    if (dest.transport === 'store') return await openStoreSource(dest, { env });
    if (dest.transport === 'docker') return await openSource(dest, options);
    // A layout not written yet (an empty or missing dir) has no previous image.
    if (dest.transport === 'oci' && (await stat(join(dest.path, 'oci-layout')).then(() => true, () => false))) return await openSource(dest, options);
    return undefined;
  } catch (err) {
    if (isLadingError(err) && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

async function openCache(args: BuildArgs, options: OpenOptions, out: Output): Promise<LayerCache | undefined> {
  const onWarning = (m: string) => out.log(`warning: ${m}`);
  if (args['cache-dir']) return new DirCache(resolve(args['cache-dir']), { onWarning });
  if (!args['cache-image']) return undefined;
  const parsed = parseReference(args['cache-image']);
  // A cache image lives in a registry (as with pack) unless named by a transport.
  const ref = parsed.transport === 'store' ? withDefaultTag(parsed.name) : parsed;
  let source: ContentSource | undefined;
  try {
    source = await openSource(ref, options);
  } catch (err) {
    if (!(isLadingError(err) && err.code === 'NOT_FOUND')) throw err;
  }
  return new ImageCache(source, () => openSink(ref, options), { onWarning });
}

/** Options that may be given several times; any other flag given twice keeps its last value (as pack's flag parser does). */
const REPEATABLE: ReadonlySet<string> = new Set(['buildpack', 'env', 'insecure-registry', 'volume']);

function lastOfRepeated(args: BuildArgs): BuildArgs {
  const out: Record<string, unknown> = { ...args };
  for (const [k, v] of Object.entries(args)) if (Array.isArray(v) && !REPEATABLE.has(k)) out[k] = v.at(-1);
  return out as unknown as BuildArgs;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}
