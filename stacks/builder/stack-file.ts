import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { LadingError, NotFoundError } from '../../registry/oci/index.js';
import { excludePatternProblem } from './exclude.js';

/** A stack definition problem: names the file and the key. */
export class StackError extends LadingError {}

export const STACK_FILE = 'stack.toml';
export const LOCK_FILE = 'stack.lock';

export type StackImageKind = 'build' | 'run';

/** One image of a stack (`[images.<name>]`). */
export interface StackImage {
  /** The key under `[images]`: `build`, `run-base`, `run-static`; also the last segment of the image name. */
  name: string;
  kind: StackImageKind;
  description: string;
  /** Installed with their dependencies (apt's resolution, no recommends). */
  packages: string[];
  /** Taken exactly as named, without their dependencies (data packages: CA certificates, tzdata). */
  standalonePackages: string[];
  /**
   * Package files left out of this image (absolute paths or globs, see exclude.ts). Applied when the
   * rootfs is assembled, after the CA bundle is made; dpkg records stay, md5sums lists drop the files.
   */
  exclude: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
}

export interface StackDefinition {
  /** The directory holding stack.toml (and stack.lock). */
  dir: string;
  file: string;
  /** Target ID: `io.buildpacks.base.id` of every image. */
  id: string;
  /** Short name used in default image names: `lading/stacks/<name>/<image>`. */
  name: string;
  distro: { name: string; version: string; codename: string };
  /** Debian architecture (`amd64`, `arm64`); default: the machine's. */
  architecture?: string;
  user: { name: string; uid: number; gid: number };
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Sorted by name. */
  images: StackImage[];
}

const ID_RE = /^[A-Za-z0-9./-]+$/;
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+$/;
const IMAGE_RE = /^[a-z0-9][a-z0-9._-]*$/;
const IMAGE_KEYS = ['kind', 'description', 'packages', 'standalone-packages', 'exclude', 'env', 'labels'];

class Reader {
  constructor(readonly file: string) {}
  fail(key: string, why: string): never {
    throw new StackError('CONTENT_INVALID', `${this.file}: ${key} ${why}`);
  }
  string(v: unknown, key: string, pattern?: RegExp): string {
    if (typeof v !== 'string' || v === '') this.fail(key, 'must be a non-empty string');
    if (pattern && !pattern.test(v)) this.fail(key, `"${v}" has characters that are not allowed`);
    return v;
  }
  optString(v: unknown, key: string): string | undefined {
    return v === undefined ? undefined : this.string(v, key);
  }
  id(v: unknown, key: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0o777777) this.fail(key, 'must be an integer id between 0 and 262143');
    return v;
  }
  table(v: unknown, key: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) this.fail(key, 'must be a table');
    return v as Record<string, unknown>;
  }
  optTable(v: unknown, key: string): Record<string, unknown> {
    return v === undefined ? {} : this.table(v, key);
  }
  strings(v: unknown, key: string, pattern: RegExp): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(key, 'must be an array of strings');
    const out = v.map((x, i) => this.string(x, `${key}[${i}]`, pattern));
    const dup = out.find((x, i) => out.indexOf(x) !== i);
    if (dup) this.fail(key, `lists "${dup}" twice`);
    return out;
  }
  patterns(v: unknown, key: string): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(key, 'must be an array of paths');
    const out = v.map((x, i) => {
      const p = this.string(x, `${key}[${i}]`);
      const why = excludePatternProblem(p);
      if (why) this.fail(`${key}[${i}]`, `"${p}" ${why}`);
      return p;
    });
    const dup = out.find((x, i) => out.indexOf(x) !== i);
    if (dup) this.fail(key, `lists "${dup}" twice`);
    return out;
  }
  stringMap(v: unknown, key: string): Record<string, string> {
    const t = this.optTable(v, key);
    return Object.fromEntries(Object.entries(t).map(([k, x]) => [k, this.string(x, `${key}.${k}`)]));
  }
}

/** Parses stack.toml text; `file` is used in messages. */
export function parseStackFile(text: string, file: string, dir: string): StackDefinition {
  const r = new Reader(file);
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new StackError('CONTENT_INVALID', `${file}: not valid TOML: ${why}`, { cause: err });
  }
  const known = new Set(['id', 'name', 'distro', 'architecture', 'user', 'env', 'labels', 'images']);
  for (const k of Object.keys(doc)) if (!known.has(k)) r.fail(k, `is not a stack.toml key (known: ${[...known].join(', ')})`);
  const distro = r.table(doc.distro, 'distro');
  const user = r.table(doc.user, 'user');
  const imagesTable = r.table(doc.images, 'images');
  const images: StackImage[] = [];
  for (const name of Object.keys(imagesTable).sort()) {
    if (!IMAGE_RE.test(name)) r.fail(`images.${name}`, 'is not a valid image name (lowercase letters, digits, ".", "_", "-")');
    const t = r.table(imagesTable[name], `images.${name}`);
    for (const k of Object.keys(t)) if (!IMAGE_KEYS.includes(k)) r.fail(`images.${name}.${k}`, `is not an image key (known: ${IMAGE_KEYS.join(', ')})`);
    const kindText = r.string(t.kind, `images.${name}.kind`);
    if (kindText !== 'build' && kindText !== 'run') r.fail(`images.${name}.kind`, `must be "build" or "run", not "${kindText}"`);
    const kind = kindText as StackImageKind;
    const image: StackImage = {
      name,
      kind,
      description: r.optString(t.description, `images.${name}.description`) ?? '',
      packages: r.strings(t.packages, `images.${name}.packages`, PACKAGE_RE),
      standalonePackages: r.strings(t['standalone-packages'], `images.${name}.standalone-packages`, PACKAGE_RE),
      exclude: r.patterns(t.exclude, `images.${name}.exclude`),
      env: r.stringMap(t.env, `images.${name}.env`),
      labels: r.stringMap(t.labels, `images.${name}.labels`),
    };
    const both = image.packages.find((p) => image.standalonePackages.includes(p));
    if (both) r.fail(`images.${name}`, `lists "${both}" in both packages and standalone-packages`);
    if (image.packages.length + image.standalonePackages.length === 0) r.fail(`images.${name}`, 'lists no packages');
    images.push(image);
  }
  if (images.length === 0) r.fail('images', 'defines no image');
  if (!images.some((i) => i.kind === 'run')) r.fail('images', 'defines no run image (kind = "run")');
  const architecture = r.optString(doc.architecture, 'architecture');
  return {
    dir,
    file,
    id: r.string(doc.id, 'id', ID_RE),
    name: r.string(doc.name, 'name', IMAGE_RE),
    distro: {
      name: r.string(distro.name, 'distro.name'),
      version: r.string(distro.version, 'distro.version'),
      codename: r.string(distro.codename, 'distro.codename', IMAGE_RE),
    },
    ...(architecture ? { architecture } : {}),
    user: { name: r.string(user.name, 'user.name', /^[a-z_][a-z0-9_-]*$/), uid: r.id(user.uid, 'user.uid'), gid: r.id(user.gid, 'user.gid') },
    env: r.stringMap(doc.env, 'env'),
    labels: r.stringMap(doc.labels, 'labels'),
    images,
  };
}

/** Reads `<dir>/stack.toml`. */
export async function readStackFile(dir: string): Promise<StackDefinition> {
  const file = join(dir, STACK_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${file} does not exist (a stack directory holds stack.toml)`, { cause: err });
    throw new StackError('IO', `reading ${file} failed: ${(err as Error).message}`, { cause: err });
  }
  return parseStackFile(text, file, dir);
}
