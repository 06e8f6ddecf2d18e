import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { BuildpackError, type Slice } from '../../lib/index.js';
import { classPath, parseManifest } from './manifest.js';
import { ZipArchive } from './zip.js';

/** How the app starts, and what jdeps and the SBOM look at. */
export interface Launch {
  kind: 'executable-jar' | 'spring-boot';
  /** The java arguments after `java` (e.g. `-jar /workspace/app.jar`). */
  args: string[];
  /** Files and dirs (absolute, in the app dir) holding the app's classes and libraries. */
  scan: string[];
  slices: Slice[];
}

export interface JarInfo {
  manifest: Map<string, string>;
  springBoot: boolean;
}

/** Reads a JAR's manifest; says clearly when the file is not a runnable JAR. */
export async function inspectJar(file: string): Promise<JarInfo> {
  const zip = await ZipArchive.open(file);
  const mf = zip.read('META-INF/MANIFEST.MF');
  const manifest = parseManifest(mf ? mf.toString('utf8') : '');
  const springBoot = zip.has('BOOT-INF/layers.idx') || (manifest.has('Start-Class') && [...zip.entries.keys()].some((n) => n.startsWith('BOOT-INF/classes/')));
  if (file.endsWith('.war') || zip.has('WEB-INF/web.xml')) {
    throw new BuildpackError('BUILD_FAILED', `${file} is a WAR: running it needs a servlet container, which this buildpack does not provide; build an executable JAR (e.g. Spring Boot's jar packaging) instead`);
  }
  if (!springBoot && !manifest.get('Main-Class')) {
    throw new BuildpackError(
      'BUILD_FAILED',
      `${file} has no Main-Class in META-INF/MANIFEST.MF${mf ? '' : ' (it has no manifest at all)'}, so it cannot be started with java -jar; ` +
        'name the main class in the build (Maven: maven-jar-plugin <configuration><archive><manifest><mainClass>…</mainClass>)',
    );
  }
  return { manifest, springBoot };
}

/** Extracts every member of a JAR into `dest` (paths checked to stay inside). */
export async function explode(file: string, dest: string): Promise<void> {
  const zip = await ZipArchive.open(file);
  const root = resolve(dest);
  for (const name of [...zip.entries.keys()].sort()) {
    const target = resolve(root, name);
    if (target !== root && !target.startsWith(`${root}/`)) throw new BuildpackError('BUILD_FAILED', `${file}: member ${name} would land outside the app dir`);
    if (name.endsWith('/')) await mkdir(target, { recursive: true });
    else {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, zip.read(name) as Buffer);
    }
  }
}

/** `BOOT-INF/layers.idx` (Spring Boot's layer index) → named lists of paths, in file order. */
export function parseLayersIndex(text: string): { name: string; paths: string[] }[] {
  const out: { name: string; paths: string[] }[] = [];
  for (const line of text.split('\n')) {
    const layer = /^- "(.+)":\s*$/.exec(line);
    const path = /^ {2}- "(.+)"\s*$/.exec(line);
    if (layer) out.push({ name: layer[1] as string, paths: [] });
    else if (path && out.length) out[out.length - 1]!.paths.push(path[1] as string);
  }
  return out;
}

/**
 * Puts the artifact into the (emptied) app dir and says how to launch it. A Spring Boot JAR is exploded, its
 * layers.idx becoming slices (the last layer, the application, stays in the app layer); any other executable JAR
 * is copied with the files its Class-Path names.
 */
export async function placeArtifact(artifact: string, info: JarInfo, appDir: string, appMount: string): Promise<Launch> {
  if (info.springBoot) {
    await explode(artifact, appDir);
    const start = info.manifest.get('Start-Class');
    if (!start) throw new BuildpackError('BUILD_FAILED', `${artifact}: a Spring Boot JAR without Start-Class in its manifest`);
    const idx = await readFile(join(appDir, 'BOOT-INF', 'layers.idx'), 'utf8').catch(() => '');
    const layers = parseLayersIndex(idx);
    const slices = layers.slice(0, -1).filter((l) => l.paths.length).map((l) => ({ paths: l.paths.map((p) => p.replace(/\/$/, '')) }));
    const libs = await readdir(join(appDir, 'BOOT-INF', 'lib')).catch((): string[] => []);
    return {
      kind: 'spring-boot',
      args: ['-cp', `${posix.join(appMount, 'BOOT-INF/classes')}:${posix.join(appMount, 'BOOT-INF/lib')}/*`, start],
      scan: [join(appDir, 'BOOT-INF', 'classes'), ...libs.filter((l) => l.endsWith('.jar')).sort().map((l) => join(appDir, 'BOOT-INF', 'lib', l))],
      slices,
    };
  }
  const name = basename(artifact);
  const placed = join(appDir, name);
  if (resolve(placed) !== resolve(artifact)) await copyFile(artifact, placed);
  const scan = [placed];
  for (const entry of classPath(info.manifest)) {
    const from = resolve(dirname(artifact), decodeURIComponent(entry));
    const to = resolve(appDir, decodeURIComponent(entry));
    if (!to.startsWith(`${resolve(appDir)}/`)) continue; // a Class-Path entry outside the app is the user's runtime concern
    if (from !== to) {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, to).catch((err: unknown) => {
        throw new BuildpackError('BUILD_FAILED', `${artifact}: its Class-Path names ${entry}, which does not exist next to it`, { cause: err });
      });
    }
    if (entry.endsWith('.jar')) scan.push(to);
  }
  return { kind: 'executable-jar', args: ['-jar', posix.join(appMount, relative(appDir, placed))], scan, slices: [] };
}
