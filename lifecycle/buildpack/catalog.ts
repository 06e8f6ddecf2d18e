import { access, constants, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { LadingError, NotFoundError } from '../../registry/oci/index.js';
import { readBuildpackDescriptor, type BuildpackDescriptor } from './descriptor.js';
import type { BuildpackSource } from './order.js';

/**
 * The buildpacks available to a build, by id and version. Ids are unique ignoring case (buildpack.md
 * "buildpack.toml"); a reference without a version picks the highest version.
 */
export class BuildpackCatalog implements BuildpackSource {
  private readonly byId = new Map<string, BuildpackDescriptor[]>();

  constructor(buildpacks: readonly BuildpackDescriptor[]) {
    const caseFolded = new Map<string, string>();
    for (const bp of buildpacks) {
      const { id, version } = bp.info;
      const folded = id.toLowerCase();
      const other = caseFolded.get(folded);
      if (other !== undefined && other !== id) {
        throw new LadingError('CONTENT_INVALID', `${bp.file}: buildpack id "${id}" differs from "${other}" only by case`);
      }
      caseFolded.set(folded, id);
      const versions = this.byId.get(id) ?? [];
      const dup = versions.find((v) => v.info.version === version);
      if (dup) throw new LadingError('CONTENT_INVALID', `${bp.file}: buildpack ${id}@${version} is also defined by ${dup.file}`);
      versions.push(bp);
      this.byId.set(id, versions);
    }
    for (const versions of this.byId.values()) versions.sort((a, b) => semver.rcompare(a.info.version, b.info.version));
  }

  /** All buildpacks, by id then newest version first. */
  list(): BuildpackDescriptor[] {
    return [...this.byId.keys()].sort().flatMap((id) => this.byId.get(id)!);
  }

  findBuildpack(id: string, version?: string): BuildpackDescriptor {
    const versions = this.byId.get(id);
    if (!versions) {
      const known = [...this.byId.keys()].sort();
      throw new NotFoundError(
        `buildpack ${id} not found` + (known.length > 0 ? ` (available: ${known.join(', ')})` : ' (no buildpacks are available)'),
      );
    }
    if (version === undefined || version === '') return versions[0]!;
    const match = versions.find((v) => v.info.version === version);
    if (!match) {
      throw new NotFoundError(`buildpack ${id}@${version} not found (available versions: ${versions.map((v) => v.info.version).join(', ')})`);
    }
    return match;
  }
}

/**
 * Loads buildpacks from directories. Each directory is a buildpack (it holds a buildpack.toml), or holds
 * buildpacks one level down (`<dir>/<name>/buildpack.toml`), or two levels down as in the platform's
 * buildpacks directory layout (`<dir>/<id>/<version>/buildpack.toml`). Component buildpacks must have
 * executable `bin/detect` and `bin/build`.
 */
export async function loadBuildpackCatalog(dirs: readonly string[]): Promise<BuildpackCatalog> {
  const found: string[] = [];
  for (const dir of dirs) found.push(...(await findBuildpackDirs(dir, 2)));
  const descriptors: BuildpackDescriptor[] = [];
  for (const dir of found) {
    const bp = await readBuildpackDescriptor(dir);
    if (bp.kind === 'component') {
      for (const exe of ['detect', 'build']) await requireExecutable(join(dir, 'bin', exe), bp);
    }
    descriptors.push(bp);
  }
  return new BuildpackCatalog(descriptors);
}

async function findBuildpackDirs(dir: string, depth: number): Promise<string[]> {
  if (await isFile(join(dir, 'buildpack.toml'))) return [dir];
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`${dir}: buildpack directory not found`, { cause: err });
    if (code === 'ENOTDIR') throw new LadingError('USAGE', `${dir}: not a buildpack directory`, { cause: err });
    throw new LadingError('IO', `${dir}: cannot list buildpacks: ${(err as Error).message}`, { cause: err });
  }
  if (depth === 0) return [];
  const out: string[] = [];
  for (const name of names) out.push(...(await findBuildpackDirs(join(dir, name), depth - 1)));
  if (out.length === 0 && depth === 2) throw new NotFoundError(`${dir}: no buildpack.toml found in this directory or below it`);
  return out;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function requireExecutable(path: string, bp: BuildpackDescriptor): Promise<void> {
  try {
    await access(path, constants.X_OK);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new LadingError(
      'CONTENT_INVALID',
      `${path}: ${missing ? 'missing' : 'not executable'}; component buildpack ${bp.info.id}@${bp.info.version} needs bin/detect and bin/build`,
      { cause: err },
    );
  }
}
