import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import type { LayerEntry } from '../../registry/layers/index.js';
import type { BuildpackModule } from './modules.js';

/**
 * Where a builder image keeps the node that runs buildpacks written in JavaScript (lading's own are bundled
 * `bin/main.mjs` started by a shell script's `exec node`): `/cnb/node/bin/node`, put on PATH in sandboxed builds.
 * Host-mode builds use the node running lading instead (design.md §8).
 */
export const NODE_DIR = '/cnb/node';

/** How much of a bin/detect or bin/build is read to tell whether it starts node. */
const HEAD_BYTES = 16 * 1024;

/**
 * Whether a buildpack layer has a `bin/detect` or `bin/build` started through node: a node shebang, or a
 * shell script with a line that starts node (`exec node …` or `node …`: lading's own buildpacks, see
 * buildpacks/node/bin/build) in its first 16 KiB.
 */
export async function moduleNeedsNode(m: BuildpackModule): Promise<boolean> {
  if (m.info.order) return false;
  const extract = tar.extract();
  const stream = await m.layer.uncompressed();
  let found = false;
  const done = (async () => {
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^\.?\/*/, '');
      if (!found && entry.header.type === 'file' && /\/bin\/(detect|build)$/.test(name)) {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of entry as AsyncIterable<Buffer>) {
          if (size < HEAD_BYTES) chunks.push(c);
          size += c.length;
        }
        const head = Buffer.concat(chunks).subarray(0, HEAD_BYTES).toString('utf8');
        if (/^#!.*\bnode\b/.test(head.split('\n')[0] ?? '') || /^\s*(exec\s+)?node\s/m.test(head)) found = true;
      } else {
        entry.resume();
      }
    }
  })();
  stream.pipe(extract);
  await done;
  return found;
}

/** glibc's own libraries: every build image has them, and mixing them across distros breaks. */
const GLIBC = /^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux[^.]*)\.so/;

/** Where the node layer keeps the C++ runtime node links against (used only where the build image has none). */
export const NODE_LIB_DIR = `${NODE_DIR}/lib`;

/**
 * The node layer's entries: the executable at `/cnb/node/bin/node` and the non-glibc shared libraries it
 * links against (libstdc++, libgcc_s; found with ldd) under `/cnb/node/lib`, for build images without a C++
 * runtime. Without ldd only the executable is taken.
 */
export async function nodeLayerEntries(exe: string): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [{ type: 'file', path: `${NODE_DIR}/bin/node`, source: exe, mode: 0o755 }];
  let out = '';
  try {
    out = (await promisify(execFile)('ldd', [exe], { encoding: 'utf8' })).stdout;
  } catch {
    return entries;
  }
  const seen = new Set<string>();
  for (const m of out.matchAll(/^\s*(\S+) => (\/\S+)/gm)) {
    const name = m[1]!;
    if (GLIBC.test(name) || seen.has(name) || !existsSync(m[2]!)) continue;
    seen.add(name);
    entries.push({ type: 'file', path: `${NODE_LIB_DIR}/${basename(name)}`, source: realpathSync(m[2]!), mode: 0o644 });
  }
  return entries;
}

/** Whether an unpacked root has a C++ runtime of its own (then the node layer's copy must not shadow it). */
export function hasCxxRuntime(rootfs: string): boolean {
  const dirs = ['usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu', 'lib/x86_64-linux-gnu', 'lib/aarch64-linux-gnu', 'usr/lib64', 'usr/lib', 'lib64', 'lib'];
  return dirs.some((d) => existsSync(join(rootfs, d, 'libstdc++.so.6')));
}
