import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildpackError } from './errors.js';

/**
 * One service binding (the Kubernetes Service Binding layout CNB platforms use: a directory per binding with a
 * `type` file, an optional `provider` file, and one file per entry, e.g. a Maven `settings.xml`).
 */
export interface Binding {
  name: string;
  /** The directory holding the entries. */
  path: string;
  type: string;
  provider?: string;
  /** Entry names other than `type` and `provider`, sorted. Read them with {@link bindingEntry}. */
  entries: readonly string[];
}

/**
 * Where bindings are: `$SERVICE_BINDING_ROOT`, else `$CNB_BINDINGS` (older platforms), else `<platform>/bindings`.
 */
export function bindingRoot(env: Readonly<Record<string, string | undefined>>, platformDir: string): string {
  return env['SERVICE_BINDING_ROOT'] || env['CNB_BINDINGS'] || join(platformDir, 'bindings');
}

/**
 * The bindings under `root`, sorted by name; a missing root means none. A binding without a `type` file is an
 * error naming it (the servicebinding spec requires one): silently ignoring it would hide a user's settings.
 */
export async function readBindings(root: string): Promise<Binding[]> {
  let dirs: string[];
  try {
    dirs = (await readdir(root, { withFileTypes: true }))
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new BuildpackError('CONTRACT', `cannot read the bindings in ${root}: ${(err as Error).message}`, { cause: err });
  }
  const out: Binding[] = [];
  for (const name of dirs) {
    const path = join(root, name);
    // Kubernetes projects entries through `..data` symlinks; entries are the visible names
    const files = (await readdir(path)).filter((f) => !f.startsWith('.')).sort();
    if (!files.includes('type')) throw new BuildpackError('CONTRACT', `${join(path, 'type')}: the binding "${name}" has no type file`);
    const type = (await readFile(join(path, 'type'), 'utf8')).trim();
    const provider = files.includes('provider') ? (await readFile(join(path, 'provider'), 'utf8')).trim() : undefined;
    out.push({ name, path, type, ...(provider ? { provider } : {}), entries: files.filter((f) => f !== 'type' && f !== 'provider') });
  }
  return out;
}

/** The bindings of `type` (compared case-insensitively, as Paketo does), optionally from one `provider`. */
export function bindingsOfType(bindings: readonly Binding[], type: string, provider?: string): Binding[] {
  return bindings.filter((b) => b.type.toLowerCase() === type.toLowerCase() && (provider === undefined || b.provider === provider));
}

/** The path of an entry of a binding, or undefined when it has none by that name. */
export function bindingEntry(binding: Binding, entry: string): string | undefined {
  return binding.entries.includes(entry) ? join(binding.path, entry) : undefined;
}
