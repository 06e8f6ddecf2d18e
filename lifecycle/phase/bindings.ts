import { cp, mkdir, readFile, stat } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { LadingError } from '../../registry/oci/index.js';

/** Where pack mounts service bindings for buildpacks (platform dir + `bindings/<name>`). */
export const BINDINGS_MOUNT = '/platform/bindings';

/** A service binding given on the command line: a host directory with `type` and entry files. */
export interface BindingVolume {
  name: string;
  source: string;
}

/**
 * Parses pack's `--volume <host-dir>:/platform/bindings/<name>[:ro]`. lading mounts nothing else into builds
 * (buildpacks see the host in host mode anyway); other targets are refused so nothing is silently ignored.
 * `:rw` is refused too: bindings are copied into the build and read-only for buildpacks.
 */
export function parseBindingVolume(spec: string, cwd = process.cwd()): BindingVolume {
  const parts = spec.split(':');
  const [source, target, mode, ...rest] = parts;
  if (!source || !target || rest.length > 0 || (mode !== undefined && mode !== 'ro')) {
    throw new LadingError('USAGE', `--volume ${spec}: expected <host-dir>:${BINDINGS_MOUNT}/<name>[:ro]`);
  }
  const normalized = posix.normalize(target);
  const name = normalized.startsWith(`${BINDINGS_MOUNT}/`) ? normalized.slice(BINDINGS_MOUNT.length + 1) : '';
  if (!name || name.includes('/') || name.startsWith('.')) {
    throw new LadingError('USAGE', `--volume ${spec}: lading mounts only service bindings, at ${BINDINGS_MOUNT}/<name> (docs/lifecycle.md "Service bindings")`);
  }
  return { name, source: resolve(cwd, source) };
}

/**
 * Copies each binding into `<platformDir>/bindings/<name>`, after checking it is a directory with a `type` file
 * (servicebinding spec), so a typo fails before any buildpack runs. Returns the binding root as buildpacks see
 * it (`SERVICE_BINDING_ROOT`), or undefined when there are none.
 */
export async function writeBindings(platformDir: string, platformMount: string, bindings: readonly BindingVolume[]): Promise<string | undefined> {
  if (bindings.length === 0) return undefined;
  const seen = new Set<string>();
  for (const b of bindings) {
    if (seen.has(b.name)) throw new LadingError('USAGE', `--volume: two bindings are named ${b.name}`);
    seen.add(b.name);
    const isDir = await stat(b.source).then((s) => s.isDirectory(), () => false);
    if (!isDir) throw new LadingError('NOT_FOUND', `${b.source}: the binding ${b.name} is not a directory`);
    const type = await readFile(join(b.source, 'type'), 'utf8').catch(() => undefined);
    if (!type?.trim()) throw new LadingError('USAGE', `${join(b.source, 'type')}: the binding ${b.name} needs a type file (e.g. "maven")`);
    const dest = join(platformDir, 'bindings', b.name);
    await mkdir(dest, { recursive: true });
    await cp(b.source, dest, { recursive: true, dereference: true });
  }
  return join(platformMount, 'bindings');
}
