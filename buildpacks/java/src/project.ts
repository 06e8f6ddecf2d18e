import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectJar } from './artifact.js';

const exists = (p: string) => access(p).then(() => true, () => false);

export type ProjectKind = { kind: 'maven' } | { kind: 'gradle'; buildFile: string } | { kind: 'jar'; jar: string };

/** The JARs at the top of the app dir, sorted. */
export async function topLevelJars(appDir: string): Promise<string[]> {
  return (await readdir(appDir).catch((): string[] => [])).filter((f) => /\.jar$/.test(f)).sort();
}

/**
 * What the app dir holds: a Maven project (pom.xml), a Gradle project (build.gradle[.kts]), or a runnable JAR.
 * Returns a reason instead when it is none of them.
 */
export async function projectKind(appDir: string): Promise<ProjectKind | { reason: string }> {
  if (await exists(join(appDir, 'pom.xml'))) return { kind: 'maven' };
  for (const f of ['build.gradle', 'build.gradle.kts']) if (await exists(join(appDir, f))) return { kind: 'gradle', buildFile: f };
  const jars = await topLevelJars(appDir);
  if (jars.length === 0) return { reason: 'no pom.xml, build.gradle(.kts) or *.jar in the app directory' };
  const problems: string[] = [];
  for (const jar of jars) {
    try {
      await inspectJar(join(appDir, jar));
      return { kind: 'jar', jar };
    } catch (err) {
      problems.push((err as Error).message.replace(`${join(appDir, jar)}`, jar));
    }
  }
  return { reason: problems.join('; ') };
}
