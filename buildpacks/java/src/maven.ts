import { access, chmod, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildpackError, shellWords } from '../../lib/index.js';

export const DEFAULT_MAVEN_ARGUMENTS = '-Dmaven.test.skip=true --batch-mode package';
export const DEFAULT_BUILT_ARTIFACT = 'target/*.[jw]ar';

const exists = (p: string) => access(p).then(() => true, () => false);

/** The arguments Maven runs with: BP_MAVEN_BUILD_ARGUMENTS + BP_MAVEN_ADDITIONAL_BUILD_ARGUMENTS + -P profiles + settings. */
export function mavenArguments(o: { build?: string | undefined; additional?: string | undefined; profiles?: string | undefined; settings?: string | undefined; localRepository?: string | undefined }): string[] {
  const args = shellWords(o.build?.trim() ? o.build : DEFAULT_MAVEN_ARGUMENTS, 'BP_MAVEN_BUILD_ARGUMENTS');
  args.push(...shellWords(o.additional ?? '', 'BP_MAVEN_ADDITIONAL_BUILD_ARGUMENTS'));
  const profiles = (o.profiles ?? '').split(/[,\s]+/).filter((p) => p !== '');
  if (profiles.length) args.push('-P', profiles.join(','));
  if (o.settings) args.push('--settings', o.settings);
  // The user's own -Dmaven.repo.local (in the arguments) wins over the cache layer.
  if (o.localRepository && !args.some((a) => a.startsWith('-Dmaven.repo.local='))) args.push(`-Dmaven.repo.local=${o.localRepository}`);
  return args;
}

/** `<localRepository>` of a settings.xml, when it sets one (then the buildpack's cache layer is not used for it). */
export function settingsLocalRepository(xml: string): string | undefined {
  const m = /<localRepository>\s*([^<]+?)\s*<\/localRepository>/.exec(xml.replace(/<!--[\s\S]*?-->/g, ''));
  return m?.[1];
}

/** `./mvnw` of the project when present (made executable), else undefined. */
export async function mavenWrapper(appDir: string): Promise<string | undefined> {
  const w = join(appDir, 'mvnw');
  if (!(await exists(w))) return undefined;
  const st = await stat(w);
  if ((st.mode & 0o111) === 0) await chmod(w, st.mode | 0o755);
  return w;
}

/** The artifact BP_MAVEN_BUILT_ARTIFACT names (a glob over file names in one directory); exactly one must match. */
export async function builtArtifact(appDir: string, pattern: string | undefined, variable = 'BP_MAVEN_BUILT_ARTIFACT'): Promise<string> {
  const glob = pattern?.trim() || DEFAULT_BUILT_ARTIFACT;
  const slash = glob.lastIndexOf('/');
  const dir = slash >= 0 ? glob.slice(0, slash) : '.';
  const re = fileGlob(glob.slice(slash + 1));
  const names = (await readdir(join(appDir, dir)).catch((): string[] => [])).filter((n) => re.test(n) && !/-(sources|javadoc|tests)\.jar$/.test(n) && !n.endsWith('.original')).sort();
  if (names.length === 0) throw new BuildpackError('BUILD_FAILED', `the build produced no artifact matching ${glob} (${variable}) in ${appDir}`);
  if (names.length > 1) throw new BuildpackError('BUILD_FAILED', `${glob} (${variable}) matches ${names.length} files (${names.join(', ')}); set ${variable} to the one to run`);
  return join(appDir, dir, names[0] as string);
}

/** A file-name glob (`*`, `?`, `[jw]`) as an anchored RegExp. */
export function fileGlob(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export async function readSettings(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new BuildpackError('CONFIG', `${path}: cannot read the Maven settings of the maven binding: ${(err as Error).message}`, { cause: err });
  }
}
