import tar from 'tar-stream';
import type { BuildpackModule } from './modules.js';

/**
 * Where a builder image keeps the node that runs buildpacks written in JavaScript (lading's own are bundled
 * `bin/main.mjs` started by `#!/usr/bin/env node`): `/cnb/node/bin/node`, put on PATH in sandboxed builds.
 * Host-mode builds use the node running lading instead (design.md §8).
 */
export const NODE_DIR = '/cnb/node';

/** Whether a buildpack layer has a `bin/detect` or `bin/build` started through node (its shebang). */
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
          if (size < 128) chunks.push(c);
          size += c.length;
        }
        const head = Buffer.concat(chunks).subarray(0, 128).toString('utf8').split('\n')[0] ?? '';
        if (/^#!.*\bnode\b/.test(head)) found = true;
      } else {
        entry.resume();
      }
    }
  })();
  stream.pipe(extract);
  await done;
  return found;
}
