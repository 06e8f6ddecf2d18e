import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  BuildpackError,
  contributeLayer,
  PROCESS_TYPE_RE,
  type BuildContext,
  type BuildResult,
  type SbomComponent,
  type TomlTable,
} from '../../lib/index.js';
import { emptyDir, projectChecksum } from './app-dir.js';
import { inspectJar, placeArtifact } from './artifact.js';
import { gradleTool, mavenTool, runTool, type BuildTool } from './build-tool.js';
import { jdkCatalog } from './catalog.js';
import { resolveJdk } from './jdk.js';
import { appComponents } from './libraries-sbom.js';
import { classPath } from './manifest.js';
import { builtArtifact } from './maven.js';
import { projectKind } from './project.js';
import { DEFAULT_JLINK_ARGUMENTS, FALLBACK_MODULES, installJre, jlink, requiredModules, runtimeLibraries } from './runtime.js';
import { jvmVersionRequest } from './version.js';

/** The heap settings every process starts with unless the user sets JAVA_TOOL_OPTIONS. */
export const DEFAULT_JAVA_TOOL_OPTIONS = '-XX:MaxRAMPercentage=75.0';

const json = (v: unknown) => JSON.stringify(v);
const parsed = <T>(v: unknown, fallback: T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : fallback);

async function filesChecksum(paths: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const p of paths) {
    h.update(`${basename(p)}\0`);
    if ((await stat(p)).isDirectory()) h.update(await projectChecksum(p));
    else h.update(await readFile(p));
  }
  return h.digest('hex');
}

export async function build(ctx: BuildContext): Promise<BuildResult> {
  const log = ctx.logger;
  const app = ctx.appDir;
  const project = await projectKind(app);
  if ('reason' in project) throw new BuildpackError('BUILD_FAILED', `${app}: nothing to build: ${project.reason}`);

  const fallback = typeof ctx.buildpack.metadata['default-version'] === 'string' ? ctx.buildpack.metadata['default-version'] : '17';
  const request = await jvmVersionRequest(app, ctx.config('BP_JVM_VERSION'), fallback);
  const catalog = jdkCatalog(ctx.buildpack.metadata, { uri: ctx.config('BP_JVM_DIST_URI'), sha256: ctx.config('BP_JVM_DIST_SHA256'), version: ctx.config('BP_JVM_VERSION') });
  const jdk = await resolveJdk(request, { kind: ctx.config('BP_JVM_SOURCE'), catalog, env: ctx.env, layers: ctx.layers });
  log.info(`Java ${jdk.version} (${jdk.origin}) from ${jdk.source} (${request.source}: ${request.constraint})`);
  await jdk.fetch(ctx.layers, log);
  const debCache = await ctx.layers.layer('debs', { cache: true });

  // The JDK is unpacked once into a cache layer (declared on every build so it stays cached) and only when
  // something needs it (a build, jdeps, jlink): a rebuild without changes unpacks nothing.
  const jdkLayer = await ctx.layers.layer('jdk', { build: true, cache: true });
  if (!jdkLayer.restoredMetadata) jdkLayer.types = { launch: false, build: false, cache: false }; // nothing to keep yet
  let javaHome: string | undefined;
  const jdkHome = async (): Promise<string> => {
    if (javaHome) return javaHome;
    const { layer } = await contributeLayer(ctx.layers, 'jdk', { types: { build: true, cache: true }, expected: jdk.key, build: async (l) => void (l.metadata['home'] = await jdk.install(l, { cacheDir: debCache.path, logger: log })) }, log);
    javaHome = String(layer.metadata['home']);
    return javaHome;
  };

  let artifact: string;
  let buildComponents: SbomComponent[] = jdk.components;
  if (project.kind === 'jar') {
    artifact = join(app, project.jar);
    log.info(`  Running ${project.jar} as it is (no build)`);
  } else {
    const tool: BuildTool = project.kind === 'maven' ? await mavenTool(ctx, debCache.path) : await gradleTool(ctx);
    const { layer: out, reused } = await contributeLayer(
      ctx.layers,
      'build-output',
      {
        types: { cache: true },
        expected: { tool: tool.name, sources: await projectChecksum(app), jdk: jdk.key, args: tool.args, 'artifact-pattern': tool.artifactPattern ?? '', ...tool.key },
        build: async (l) => {
          const home = await jdkHome();
          const command = await tool.command();
          await runTool(tool, command.path, { appDir: app, javaHome: home, env: ctx.env, logger: log });
          const built = await builtArtifact(app, tool.artifactPattern, tool.name === 'maven' ? 'BP_MAVEN_BUILT_ARTIFACT' : 'BP_GRADLE_BUILT_ARTIFACT');
          // The artifact and the files its Class-Path names (e.g. target/lib/*.jar) are kept for rebuilds without changes.
          await copyFile(built, join(l.path, basename(built)));
          const info = await inspectJar(built);
          for (const entry of classPath(info.manifest)) {
            const from = resolve(dirname(built), decodeURIComponent(entry));
            const to = resolve(l.path, decodeURIComponent(entry));
            if (!to.startsWith(`${l.path}/`)) continue;
            await mkdir(dirname(to), { recursive: true });
            await copyFile(from, to).catch((err: unknown) => {
              throw new BuildpackError('BUILD_FAILED', `${built}: its Class-Path names ${entry}, which the build did not produce next to it`, { cause: err });
            });
          }
          l.metadata['artifact'] = basename(built);
          l.metadata['build-sbom'] = json(command.components);
        },
      },
      log,
    );
    if (reused) log.info(`  Sources and ${tool.name === 'maven' ? 'Maven' : 'Gradle'} settings unchanged: not running ${tool.name === 'maven' ? 'Maven' : 'Gradle'}`);
    artifact = join(out.path, String(out.metadata['artifact']));
    buildComponents = [...jdk.components, ...parsed<SbomComponent[]>(out.metadata['build-sbom'], [])];
  }

  const info = await inspectJar(artifact);
  if (project.kind !== 'jar') await emptyDir(app);
  const launch = await placeArtifact(artifact, info, app, app);
  if (project.kind === 'jar' && info.springBoot) await rm(artifact);
  log.info(`  ${launch.kind === 'spring-boot' ? `Spring Boot JAR exploded${launch.slices.length ? ` into ${launch.slices.length + 1} layers (BOOT-INF/layers.idx)` : ''}` : 'Executable JAR'}: java ${launch.args.join(' ')}`);

  // Modules from jdeps, remembered (store.toml) by the checksum of what was scanned, so an unchanged app needs no JDK.
  const scanned = await filesChecksum(launch.scan);
  const remembered = ctx.store['modules'];
  let modules: string[];
  if (remembered && typeof remembered === 'object' && !Array.isArray(remembered) && (remembered as TomlTable)['scanned'] === scanned && (remembered as TomlTable)['jdk'] === jdk.version) {
    modules = ((remembered as TomlTable)['list'] as string[]).map(String);
  } else {
    modules = await requiredModules(await jdkHome(), jdk.feature, launch.scan, [], log);
  }
  const jlinkEnabled = (ctx.config('BP_JVM_JLINK_ENABLED') ?? 'true').trim().toLowerCase() !== 'false';
  const jlinkArgs = ctx.config('BP_JVM_JLINK_ARGS')?.trim() || DEFAULT_JLINK_ARGUMENTS;
  // A catalog tarball is a JDK with no separate JRE: without jlink'ing the app's modules, the runtime is jlink'd
  // from the Java SE and runtime jdk.* modules (what a JRE holds), never the whole JDK.
  const seRuntime = !jlinkEnabled && jdk.source === 'catalog';
  const useJlink = jlinkEnabled || seRuntime;
  const runtimeModules = seRuntime ? FALLBACK_MODULES : modules;
  const triplet = ctx.target.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';

  const { layer: jre } = await contributeLayer(
    ctx.layers,
    'jre',
    {
      types: { launch: true },
      expected: useJlink ? { jdk: jdk.key, modules: runtimeModules, jlink: jlinkArgs } : { jdk: jdk.key, runtime: 'jre-package' },
      build: async (l) => {
        const home = await jdkHome();
        if (!useJlink) {
          log.info(`  The JRE from Debian's packages (BP_JVM_JLINK_ENABLED=false)`);
          const jre = await installJre(jdk.feature, jdk.debVersion ?? jdk.version, l.path, { env: ctx.env, logger: log, cacheDir: debCache.path, javaHome: home });
          await l.env('launch').prepend('PATH', join(jre.home, 'bin'), ':');
          await l.env('launch').prepend('LD_LIBRARY_PATH', [join(l.path, 'usr', 'lib', triplet), join(l.path, 'lib', triplet)].join(':'), ':');
          await l.env('launch').override('JAVA_HOME', jre.home);
          await l.env('launch').default('JAVA_TOOL_OPTIONS', DEFAULT_JAVA_TOOL_OPTIONS);
          l.metadata['java'] = join(jre.home, 'bin', 'java');
          l.metadata['sbom'] = json(jre.packages.map((d): SbomComponent => ({ name: d.name, version: d.version, purl: d.purl, ...(d.name.startsWith('openjdk-') ? { cpe: jdk.cpe, type: 'application' as const } : {}), ...(d.checksum.startsWith('sha256:') ? { hashes: { sha256: d.checksum.slice(7) } } : {}) })));
          return;
        }
        if (seRuntime) log.info(`  BP_JVM_JLINK_ENABLED=false with a catalog JDK (no JRE package): a runtime of the Java SE and runtime jdk.* modules`);
        log.info(`  jlink --add-modules ${runtimeModules.join(',')}`);
        await jlink(home, runtimeModules, l.path, jlinkArgs);
        const libs = await runtimeLibraries(l.path, join(l.path, 'os'), { env: ctx.env, logger: log, cacheDir: debCache.path });
        if (libs.packages.length) {
          await l.env('launch').prepend('LD_LIBRARY_PATH', [join(l.path, 'os', 'usr', 'lib', triplet), join(l.path, 'os', 'lib', triplet)].join(':'), ':');
        }
        await l.env('launch').override('JAVA_HOME', l.path);
        await l.env('launch').default('JAVA_TOOL_OPTIONS', DEFAULT_JAVA_TOOL_OPTIONS);
        const runtime: SbomComponent = {
          name: `openjdk-${jdk.feature}-jre (jlink: ${runtimeModules.join(',')})`,
          version: jdk.version,
          type: 'application',
          purl: jdk.purl,
          cpe: jdk.cpe,
          licenses: jdk.licenses,
        };
        const os = libs.packages.map((d): SbomComponent => ({ name: d.name, version: d.version, purl: d.purl, ...(d.checksum.startsWith('sha256:') ? { hashes: { sha256: d.checksum.slice(7) } } : {}) }));
        l.metadata['java'] = join(l.path, 'bin', 'java');
        l.metadata['sbom'] = json([runtime, ...os]);
      },
    },
    log,
  );
  await jre.writeSbom(parsed<SbomComponent[]>(jre.metadata['sbom'], []));
  await ctx.layers.writeSbom('launch', await appComponents(app, launch.scan));
  await ctx.layers.writeSbom('build', buildComponents);

  const java = typeof jre.metadata['java'] === 'string' ? jre.metadata['java'] : join(jre.path, 'bin', 'java');
  const processes = ['web', 'executable-jar'].map((type) => {
    if (!PROCESS_TYPE_RE.test(type)) throw new BuildpackError('CONFIG', `${type} is not a valid process type`);
    return { type, command: [java, ...launch.args], default: type === 'web' };
  });
  return {
    processes,
    slices: launch.slices,
    labels: [{ key: 'io.lading.run-image', value: 'base' }],
    store: { modules: { scanned, jdk: jdk.version, list: modules } },
  };
}
