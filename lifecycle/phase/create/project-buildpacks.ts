import { createHash, randomUUID } from 'node:crypto';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { LadingError } from '../../../registry/oci/index.js';
import type { GroupEntry, Order } from '../../buildpack/index.js';
import type { ProjectBuildpackRef } from '../../platform/index.js';

/**
 * project.toml `[[io.buildpacks.pre.group]]` / `[[io.buildpacks.post.group]]` (project-descriptor.md): inserted at
 * the beginning / end of every group of the order, "as if they were originally included in the group". A
 * buildpack the group already has is not added twice.
 */
export function withPrePost(order: Order, pre: readonly GroupEntry[], post: readonly GroupEntry[]): Order {
  if (pre.length === 0 && post.length === 0) return order;
  return order.map((group) => {
    const ids = new Set(group.map((e) => e.id));
    return [...pre.filter((e) => !ids.has(e.id)), ...group, ...post.filter((e) => !ids.has(e.id))];
  });
}

/**
 * An inline buildpack (project.toml `script`) as a buildpack directory: `bin/detect` always passes, `bin/build`
 * runs the script with its `shell` in the app dir (the build's working directory). Directories are keyed by the
 * content's sha256 under `root`, written to a temp name and renamed, so concurrent builds share them safely
 * and the same script always gives the same directory.
 */
export async function inlineBuildpackDir(ref: ProjectBuildpackRef, root: string): Promise<string> {
  const script = ref.script;
  if (!script || !ref.id) throw new LadingError('CONTENT_INVALID', `project.toml: inline buildpack ${ref.id ?? '(no id)'} needs an id and a script`);
  const descriptor = stringify({ api: script.api, buildpack: { id: ref.id, version: ref.version ?? '0.0.0', name: `inline buildpack ${ref.id}` } });
  const build = `#!${script.shell}\nset -e\n${script.inline}\n`;
  const key = createHash('sha256').update(descriptor).update('\0').update(build).digest('hex');
  const dir = join(root, key.slice(0, 32));
  if (await stat(join(dir, 'buildpack.toml')).then(() => true, () => false)) return dir;
  const temp = `${dir}.tmp-${randomUUID()}`;
  try {
    await mkdir(join(temp, 'bin'), { recursive: true });
    await writeFile(join(temp, 'buildpack.toml'), descriptor);
    await writeFile(join(temp, 'bin', 'detect'), '#!/bin/sh\nexit 0\n');
    await writeFile(join(temp, 'bin', 'build'), build);
    await chmod(join(temp, 'bin', 'detect'), 0o755);
    await chmod(join(temp, 'bin', 'build'), 0o755);
    await rename(temp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another build made the same directory first: theirs is identical.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } catch (err) {
    throw new LadingError('IO', `cannot write inline buildpack ${ref.id} under ${root}: ${(err as Error).message}`, { cause: err });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return dir;
}
