import { createHash } from 'node:crypto';
import { access, chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { aptClosure, bindingEntry, bindingsOfType, BuildpackError, contributeLayer, debPurl, installDebs, shellWords, type BuildContext, type SbomComponent } from '../../lib/index.js';
import { mavenArguments, mavenWrapper, readSettings, settingsLocalRepository } from './maven.js';

/** Java runtimes Debian's maven depends on: the JDK layer provides Java, so the closure leaves them out. */
const JAVA_RUNTIME_PACKAGES = ['default-jre-headless', 'java-runtime-headless', 'java8-runtime-headless', 'java-common', 'ca-certificates-java', 'openjdk-17-jre-headless', 'openjdk-17-jre'];
const NOTHING_INSTALLED = { versions: new Map<string, string>(), provides: new Set<string>(), source: 'fallback' };

export const DEFAULT_GRADLE_ARGUMENTS = '--no-daemon -Dorg.gradle.welcome=never assemble -x test';

/** A Maven or Gradle invocation: everything that decides its output (for reuse) and how to get the tool. */
export interface BuildTool {
  name: 'maven' | 'gradle';
  args: string[];
  artifactPattern: string | undefined;
  /** Reuse key parts beyond the sources: settings contents, wrapper vs apt. */
  key: Record<string, string>;
  /** The command to run (installs Maven from apt on first use) and its SBOM components. */
  command(): Promise<{ path: string; components: SbomComponent[] }>;
  env: Record<string, string>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Maven: ./mvnw or Debian's maven; settings.xml from a `maven` service binding; ~/.m2/repository as a cache layer. */
export async function mavenTool(ctx: BuildContext, debCache: string): Promise<BuildTool> {
  const bindings = bindingsOfType(ctx.bindings, 'maven');
  if (bindings.length > 1) throw new BuildpackError('CONFIG', `${bindings.length} service bindings of type maven (${bindings.map((b) => b.name).join(', ')}); the buildpack uses one settings.xml, bind only one`);
  const binding = bindings[0];
  const settings = binding ? bindingEntry(binding, 'settings.xml') : undefined;
  const security = binding ? bindingEntry(binding, 'settings-security.xml') : undefined;
  const settingsText = settings ? await readSettings(settings) : '';
  const m2 = await ctx.layers.layer('maven-repository', { cache: true });
  const localRepository = settingsLocalRepository(settingsText) ? undefined : join(m2.path, 'repository');
  const args = mavenArguments({
    build: ctx.config('BP_MAVEN_BUILD_ARGUMENTS'),
    additional: ctx.config('BP_MAVEN_ADDITIONAL_BUILD_ARGUMENTS'),
    profiles: ctx.config('BP_MAVEN_ACTIVE_PROFILES'),
    settings,
    localRepository,
  });
  if (security) args.push(`-Dsettings.security=${security}`);
  const wrapper = await mavenWrapper(ctx.appDir);
  if (binding) ctx.logger.info(`  Maven settings from the service binding ${binding.name}${settings ? '' : ' (it has no settings.xml entry)'}`);
  return {
    name: 'maven',
    args,
    artifactPattern: ctx.config('BP_MAVEN_BUILT_ARTIFACT'),
    key: { maven: wrapper ? 'mvnw' : 'apt', settings: sha256(settingsText), security: security ? sha256(await readFile(security, 'utf8')) : '' },
    env: {},
    async command() {
      if (wrapper) return { path: wrapper, components: [] };
      const debs = await aptClosure(['maven'], { env: ctx.env, installed: NOTHING_INSTALLED, exclude: JAVA_RUNTIME_PACKAGES });
      const components = debs.map((d): SbomComponent => ({ name: d.name, version: d.version, type: d.name === 'maven' ? 'application' : 'library', purl: debPurl(d.name, d.version, d.arch), hashes: { sha256: d.sha256 } }));
      const { layer } = await contributeLayer(
        ctx.layers,
        'maven',
        {
          types: { build: true },
          expected: { packages: debs.map((d) => `${d.name}=${d.version}`), sha256: debs.map((d) => d.sha256) },
          build: async (l) => {
            await installDebs(debs, l.path, { env: ctx.env, logger: ctx.logger, cacheDir: debCache, exclude: ['./usr/share/doc', './usr/share/man', './usr/share/bash-completion'] });
          },
        },
        ctx.logger,
      );
      const mvn = join(layer.path, 'usr', 'share', 'maven', 'bin', 'mvn');
      if (!(await access(mvn).then(() => true, () => false))) throw new BuildpackError('DEPENDENCY_FETCH', `Debian's maven package left no ${mvn}`);
      ctx.logger.info(`  Maven ${debs.find((d) => d.name === 'maven')?.version ?? ''} from apt (${debs.length} packages)`);
      return { path: mvn, components };
    },
  };
}

/** Gradle: only through the project's ./gradlew (no Gradle distribution source exists here); ~/.gradle as a cache layer. */
export async function gradleTool(ctx: BuildContext): Promise<BuildTool> {
  const wrapper = join(ctx.appDir, 'gradlew');
  const home = await ctx.layers.layer('gradle-home', { cache: true });
  const args = shellWords(ctx.config('BP_GRADLE_BUILD_ARGUMENTS')?.trim() || DEFAULT_GRADLE_ARGUMENTS, 'BP_GRADLE_BUILD_ARGUMENTS');
  args.push(...shellWords(ctx.config('BP_GRADLE_ADDITIONAL_BUILD_ARGUMENTS') ?? '', 'BP_GRADLE_ADDITIONAL_BUILD_ARGUMENTS'));
  return {
    name: 'gradle',
    args,
    artifactPattern: ctx.config('BP_GRADLE_BUILT_ARTIFACT') || 'build/libs/*.[jw]ar',
    key: {},
    env: { GRADLE_USER_HOME: home.path },
    async command() {
      const st = await stat(wrapper).catch(() => undefined);
      if (!st) {
        throw new BuildpackError('BUILD_FAILED', `${wrapper}: not found; the Java buildpack builds Gradle projects with the project's Gradle wrapper (run "gradle wrapper" and commit gradlew and gradle/wrapper/)`);
      }
      if ((st.mode & 0o111) === 0) await chmod(wrapper, st.mode | 0o755);
      return { path: wrapper, components: [] };
    },
  };
}

/** Runs the build tool in the app dir with the JDK; a failure shows the tool's errors and exit code. */
export async function runTool(tool: BuildTool, path: string, o: { appDir: string; javaHome: string; env: Readonly<Record<string, string | undefined>>; logger: BuildContext['logger'] }): Promise<void> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, tool.env, { JAVA_HOME: o.javaHome, PATH: [join(o.javaHome, 'bin'), env['PATH'] ?? '/usr/bin:/bin'].join(':') });
  const shown = path.startsWith(`${o.appDir}/`) ? `.${path.slice(o.appDir.length)}` : tool.name === 'maven' ? 'mvn' : 'gradle';
  o.logger.info(`  ${shown} ${tool.args.join(' ')}`);
  const r = await execa(path, tool.args, { cwd: o.appDir, env, extendEnv: false, all: true, reject: false, timeout: 3_600_000 });
  if ((r as { code?: string }).code === 'ENOENT') throw new BuildpackError('BUILD_FAILED', `${path} could not be started (is its interpreter, e.g. /bin/sh, present?)`);
  const output = String(r.all ?? '');
  if (r.exitCode !== 0) {
    const errors = output.split('\n').filter((l) => /^\[(ERROR|FATAL)\]/.test(l) && !/^\[ERROR\] *(-> \[Help|Re-run Maven|To see the full|For more information|\[Help \d|$)/.test(l));
    const lines = (errors.length ? errors : output.trim().split('\n').slice(-40)).slice(0, 60).join('\n');
    throw new BuildpackError('BUILD_FAILED', `${shown} ${tool.args.join(' ')} failed (exit ${r.exitCode ?? 'signal'}):\n${lines}`);
  }
  // The tool's whole output, as pack shows it: warnings and what was compiled are worth seeing.
  if (output.trim()) o.logger.info(output.trimEnd().replace(/^/gm, '    '));
}
