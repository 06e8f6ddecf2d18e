import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildpackError } from './errors.js';

/**
 * Who sees a layer's variable (buildpack.md "Provided by the Buildpacks"): `all` = `env/` (later buildpacks
 * and launch), `build` = `env.build/`, `launch` = `env.launch/`, `{ process }` = `env.launch/<process>/`.
 */
export type EnvScope = 'all' | 'build' | 'launch' | { process: string };

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const PROCESS_TYPE_RE = /^[A-Za-z0-9._-]+$/;

export function envDirFor(layerPath: string, scope: EnvScope): string {
  if (scope === 'all') return join(layerPath, 'env');
  if (scope === 'build') return join(layerPath, 'env.build');
  if (scope === 'launch') return join(layerPath, 'env.launch');
  if (!PROCESS_TYPE_RE.test(scope.process)) {
    throw new BuildpackError('INVALID_OUTPUT', `env.launch/${scope.process}: process type must match ${PROCESS_TYPE_RE}`);
  }
  return join(layerPath, 'env.launch', scope.process);
}

/**
 * Writes env files of one scope of a layer, one file per modification (the spec's suffixes). Values are used
 * verbatim by the lifecycle, never evaluated by a shell.
 */
export class LayerEnv {
  readonly dir: string;

  constructor(layerPath: string, scope: EnvScope) {
    this.dir = envDirFor(layerPath, scope);
  }

  /** `NAME.override`: the value replaces any earlier one. */
  override(name: string, value: string): Promise<void> {
    return this.#write(name, 'override', value);
  }

  /** `NAME.default`: used only when the variable is otherwise unset. */
  default(name: string, value: string): Promise<void> {
    return this.#write(name, 'default', value);
  }

  /** `NAME.prepend` (+ `NAME.delim` when a delimiter is given). */
  async prepend(name: string, value: string, delim?: string): Promise<void> {
    await this.#write(name, 'prepend', value);
    if (delim !== undefined) await this.delim(name, delim);
  }

  /** `NAME.append` (+ `NAME.delim` when a delimiter is given). */
  async append(name: string, value: string, delim?: string): Promise<void> {
    await this.#write(name, 'append', value);
    if (delim !== undefined) await this.delim(name, delim);
  }

  /** `NAME.delim`: the separator used when this layer's value is joined with others. */
  delim(name: string, delim: string): Promise<void> {
    return this.#write(name, 'delim', delim);
  }

  async #write(name: string, suffix: string, value: string): Promise<void> {
    if (!NAME_RE.test(name)) throw new BuildpackError('INVALID_OUTPUT', `${this.dir}: "${name}" is not a valid environment variable name`);
    await mkdir(this.dir, { recursive: true });
    await writeFile(join(this.dir, `${name}.${suffix}`), value);
  }
}
