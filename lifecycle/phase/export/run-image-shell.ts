import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import tar from 'tar-stream';
import { keepFile } from '../../../registry/keep-file.js';
import type { Image } from '../../../registry/oci/index.js';
import { runImageKey } from '../run-packages.js';

const SHELLS = ['bin/sh', 'usr/bin/sh'];

/**
 * Whether the run image has `/bin/sh` (directly or through a merged `/usr`), found by reading its layers'
 * tar headers from the top down; a whiteout of the file (or an opaque whiteout of its directory) in an upper
 * layer hides it in the lower ones. Costs a read of the run image's layers: callers that know pass the answer
 * instead, and `cacheDir` keeps it between builds under a key of the layers' diffIDs.
 */
export async function runImageHasShell(image: Image, cacheDir?: string): Promise<boolean> {
  if (!cacheDir) return readShell(image);
  const file = join(cacheDir, `${runImageKey(image)}.shell`);
  const kept = await readFile(file, 'utf8').catch(() => undefined);
  if (kept === 'true\n' || kept === 'false\n') return kept === 'true\n';
  const found = await readShell(image);
  await keepFile(file, `${found}\n`);
  return found;
}

/** Whether `name` is hidden by one of `prefixes` (a whited-out path hides itself and what is below it). */
const hiddenBy = (prefixes: ReadonlySet<string>, name: string): boolean => {
  for (let p = name; p !== '.' && p !== ''; p = posix.dirname(p)) if (prefixes.has(p)) return true;
  return false;
};

async function readShell(image: Image): Promise<boolean> {
  // Paths whited out by the layers read so far (above the one being read): they hide lower layers' entries.
  const hidden = new Set<string>();
  for (const layer of [...image.layers].reverse()) {
    const extract = tar.extract();
    (await layer.uncompressed()).pipe(extract);
    let found = false;
    const whiteouts: string[] = [];
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^\.?\/+/, '').replace(/\/+$/, '');
      const base = posix.basename(name);
      if (base === '.wh..wh..opq') {
        // An opaque directory: nothing below it in lower layers shows (the directory itself stays).
        const d = posix.dirname(name);
        for (const s of SHELLS) if (d === '.' || posix.dirname(s) === d || posix.dirname(s).startsWith(`${d}/`)) whiteouts.push(posix.dirname(s));
      } else if (base.startsWith('.wh.')) {
        whiteouts.push(posix.join(posix.dirname(name), base.slice('.wh.'.length)));
      } else if (SHELLS.includes(name) && entry.header.type !== 'directory' && !hiddenBy(hidden, name)) {
        found = true;
      }
      entry.resume();
    }
    if (found) return true;
    for (const w of whiteouts) hidden.add(w);
  }
  return false;
}
