import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { selectVersionRequest, type VersionRequest } from '../../lib/index.js';

/** A Java version as users write it (`17`, `1.8`, `17.0.2`, `17.0.2-tem`) → a semver constraint on the JDK version. */
export function javaConstraint(v: string): string {
  const t = v.trim().replace(/-[A-Za-z][\w.]*$/, ''); // sdkman's vendor suffix: 17.0.2-tem
  const legacy = /^1\.(\d+)(.*)$/.exec(t); // 1.8 → 8
  const s = legacy ? `${legacy[1]}${legacy[2] ?? ''}` : t;
  if (/^\d+$/.test(s)) return `${s}.x`;
  return s;
}

const read = (p: string) => readFile(p, 'utf8').catch(() => undefined);

/** `maven.compiler.release` / `.target` / `.source` from pom.xml `<properties>`, or the compiler plugin's `<release>`. */
export function pomJavaVersion(pom: string): { value: string; key: string } | undefined {
  const props = /<properties>([\s\S]*?)<\/properties>/.exec(pom)?.[1] ?? '';
  for (const key of ['maven.compiler.release', 'maven.compiler.target', 'maven.compiler.source', 'java.version']) {
    const m = new RegExp(`<${key.replace(/\./g, '\\.')}>\\s*([^<\\s]+)\\s*</`).exec(props);
    if (m && !m[1]!.includes('${')) return { value: m[1]!, key };
  }
  const release = /<artifactId>maven-compiler-plugin<\/artifactId>[\s\S]*?<release>\s*([0-9.]+)\s*<\/release>/.exec(pom)?.[1];
  return release ? { value: release, key: 'maven-compiler-plugin <release>' } : undefined;
}

/** BP_JVM_VERSION > .java-version > .sdkmanrc > pom.xml > the buildpack's default (Paketo's order). */
export async function jvmVersionRequest(appDir: string, env: string | undefined, fallback: string): Promise<VersionRequest> {
  const dotJava = (await read(join(appDir, '.java-version')))?.split('\n')[0]?.trim();
  const sdkman = /^\s*java\s*=\s*(\S+)/m.exec((await read(join(appDir, '.sdkmanrc'))) ?? '')?.[1];
  const pomText = await read(join(appDir, 'pom.xml'));
  const pom = pomText ? pomJavaVersion(pomText) : undefined;
  const pick = selectVersionRequest([
    env ? { constraint: javaConstraint(env), source: `BP_JVM_VERSION ${env}` } : undefined,
    dotJava ? { constraint: javaConstraint(dotJava), source: `.java-version ${dotJava}` } : undefined,
    sdkman ? { constraint: javaConstraint(sdkman), source: `.sdkmanrc java=${sdkman}` } : undefined,
    pom ? { constraint: javaConstraint(pom.value), source: `pom.xml ${pom.key} ${pom.value}` } : undefined,
  ]);
  return pick ?? { constraint: javaConstraint(fallback), source: 'buildpack default' };
}
