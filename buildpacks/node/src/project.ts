import { readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { BuildpackError, entryKind } from '../../lib/index.js';

/** The fields of package.json this buildpack reads; everything else is left to the package manager. */
export interface PackageJson {
  name?: string;
  main?: string;
  scripts: Record<string, string>;
  engines: { node?: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  packageManager?: string;
  workspaces?: unknown;
}

/** What the app directory says about itself: files that choose the runtime, the package manager, the start. */
export interface NodeProject {
  /** The project directory: the app dir, or `BP_NODE_PROJECT_PATH` inside it. */
  dir: string;
  /** Where package.json is, or undefined for a script-only app (server.js / app.js / index.js). */
  packageJson?: PackageJson;
  nvmrc?: string;
  nodeVersionFile?: string;
  /** `package-lock.json` or `npm-shrinkwrap.json`, when present. */
  npmLockfile?: string;
  hasYarnLock: boolean;
  hasPnpmLock: boolean;
  procfile?: string;
}

/** Script files that make a directory a Node.js app even without package.json, in start-command order. */
export const SCRIPT_ENTRIES = ['server.js', 'app.js', 'index.js'] as const;

async function readIfFile(file: string): Promise<string | undefined> {
  try {
    if (entryKind(file) !== 'file') return undefined;
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Whether `file` is a regular file (following symlinks); a build replay takes only that answer as the input (lib/replay.ts). */
export async function isFile(file: string): Promise<boolean> {
  try {
    return entryKind(file) === 'file';
  } catch {
    return false;
  }
}

/** The project directory from `BP_NODE_PROJECT_PATH`, which must stay inside the app dir. */
export function projectDir(appDir: string, projectPath: string | undefined): string {
  const p = (projectPath ?? '').trim();
  if (!p) return appDir;
  const rel = normalize(p);
  if (isAbsolute(p) || rel === '..' || rel.startsWith(`..${sep}`)) {
    throw new BuildpackError('CONFIG', `BP_NODE_PROJECT_PATH="${p}" must be a relative path inside the app directory`);
  }
  return resolve(appDir, rel);
}

function stringMap(value: unknown, field: string, file: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BuildpackError('CONFIG', `${file}: "${field}" must be an object of strings`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new BuildpackError('CONFIG', `${file}: "${field}.${k}" must be a string`);
    out[k] = v;
  }
  return out;
}

function optionalString(doc: Record<string, unknown>, field: string, file: string): string | undefined {
  const v = doc[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new BuildpackError('CONFIG', `${file}: "${field}" must be a string`);
  return v;
}

/** Parses package.json text; a syntax error names the file and JSON's own description of the position. */
export function parsePackageJson(text: string, file: string): PackageJson {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new BuildpackError('CONFIG', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new BuildpackError('CONFIG', `${file} must hold a JSON object`);
  const d = doc as Record<string, unknown>;
  const engines = d['engines'];
  const node = typeof engines === 'object' && engines !== null && !Array.isArray(engines) ? (engines as Record<string, unknown>)['node'] : undefined;
  if (node !== undefined && typeof node !== 'string') throw new BuildpackError('CONFIG', `${file}: "engines.node" must be a string`);
  const pkg: PackageJson = {
    scripts: stringMap(d['scripts'], 'scripts', file),
    engines: node === undefined ? {} : { node },
    dependencies: stringMap(d['dependencies'], 'dependencies', file),
    devDependencies: stringMap(d['devDependencies'], 'devDependencies', file),
  };
  const name = optionalString(d, 'name', file);
  if (name !== undefined) pkg.name = name;
  const main = optionalString(d, 'main', file);
  if (main !== undefined) pkg.main = main;
  const pm = optionalString(d, 'packageManager', file);
  if (pm !== undefined) pkg.packageManager = pm;
  if (d['workspaces'] !== undefined) pkg.workspaces = d['workspaces'];
  return pkg;
}

/** Reads the project files; `displayDir` is how messages name the directory (e.g. `/workspace`). */
export async function readProject(dir: string): Promise<NodeProject> {
  const pkgFile = join(dir, 'package.json');
  const pkgText = await readIfFile(pkgFile);
  const project: NodeProject = {
    dir,
    hasYarnLock: await isFile(join(dir, 'yarn.lock')),
    hasPnpmLock: await isFile(join(dir, 'pnpm-lock.yaml')),
  };
  if (pkgText !== undefined) project.packageJson = parsePackageJson(pkgText, pkgFile);
  const nvmrc = await readIfFile(join(dir, '.nvmrc'));
  if (nvmrc !== undefined) project.nvmrc = nvmrc;
  const nodeVersion = await readIfFile(join(dir, '.node-version'));
  if (nodeVersion !== undefined) project.nodeVersionFile = nodeVersion;
  for (const lock of ['npm-shrinkwrap.json', 'package-lock.json']) {
    if (await isFile(join(dir, lock))) {
      project.npmLockfile = join(dir, lock);
      break;
    }
  }
  const procfile = await readIfFile(join(dir, 'Procfile'));
  if (procfile !== undefined) project.procfile = procfile;
  return project;
}

/** Whether the project has dependencies for a package manager to install. */
export function hasDependencies(pkg: PackageJson | undefined): boolean {
  return !!pkg && (Object.keys(pkg.dependencies).length > 0 || Object.keys(pkg.devDependencies).length > 0);
}
