import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { SbomComponent } from '../../lib/index.js';
import { ZipArchive } from './zip.js';

/** `key=value` lines of a pom.properties file. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(t);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

/** `<licenses><license><name>` of a pom.xml (the names as written; the SBOM writer classifies them). */
export function pomLicenses(pom: string): string[] {
  const block = /<licenses>([\s\S]*?)<\/licenses>/.exec(pom.replace(/<!--[\s\S]*?-->/g, ''))?.[1] ?? '';
  return [...block.matchAll(/<license>[\s\S]*?<name>\s*([^<]+?)\s*<\/name>[\s\S]*?<\/license>/g)].map((m) => m[1] as string);
}

/** `name-1.2.3.jar` → name and version, for JARs that carry no Maven metadata. */
export function nameFromJarFile(file: string): { name: string; version: string } {
  const base = basename(file).replace(/\.jar$/, '');
  const m = /^(.+?)-(\d[\w.+-]*)$/.exec(base);
  return m ? { name: m[1] as string, version: m[2] as string } : { name: base, version: '' };
}

const mavenPurl = (g: string, a: string, v: string) => `pkg:maven/${encodeURIComponent(g)}/${encodeURIComponent(a)}@${encodeURIComponent(v)}`;

function fromMavenMetadata(read: (name: string) => Buffer | undefined, names: Iterable<string>, type: SbomComponent['type']): SbomComponent[] {
  const out: SbomComponent[] = [];
  for (const n of [...names].filter((x) => /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/.test(x)).sort()) {
    const p = parseProperties((read(n) as Buffer).toString('utf8'));
    const g = p.get('groupId');
    const a = p.get('artifactId');
    const v = p.get('version');
    if (!g || !a || !v) continue;
    const pom = read(n.replace(/pom\.properties$/, 'pom.xml'));
    out.push({ name: `${g}:${a}`, version: v, type, purl: mavenPurl(g, a, v), licenses: pom ? pomLicenses(pom.toString('utf8')) : [] });
  }
  return out;
}

/** The components of one JAR: its META-INF/maven/** metadata, else its file name. */
export async function jarComponents(file: string, type: SbomComponent['type'] = 'library'): Promise<SbomComponent[]> {
  const zip = await ZipArchive.open(file);
  const found = fromMavenMetadata((n) => zip.read(n), zip.entries.keys(), type);
  if (found.length) return found;
  const { name, version } = nameFromJarFile(file);
  return [{ name, version, type }];
}

async function listRelative(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true }).catch(() => [])) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listRelative(dir, rel)));
    else out.push(rel);
  }
  return out;
}

/**
 * Every library in what the app runs: each scanned JAR (the app and its libraries) and, for an exploded app
 * (a classes directory), the Maven metadata next to it. The first scanned item is the application itself.
 */
export async function appComponents(appDir: string, scan: string[]): Promise<SbomComponent[]> {
  const out: SbomComponent[] = [];
  for (const [i, item] of scan.entries()) {
    const type = i === 0 ? 'application' : 'library';
    if ((await stat(item)).isDirectory()) {
      // Exploded (Spring Boot): the app's own Maven metadata sits in META-INF/maven/ of the app dir.
      const files = new Map<string, Buffer>();
      for (const rel of await listRelative(appDir, 'META-INF/maven')) files.set(rel, await readFile(join(appDir, rel)));
      out.push(...fromMavenMetadata((n) => files.get(n), files.keys(), 'application'));
    } else out.push(...(await jarComponents(item, type)));
  }
  return out;
}

