import tar from 'tar-stream';
import type { Image } from '../../../registry/oci/index.js';

const SHELLS = new Set(['bin/sh', 'usr/bin/sh']);

/**
 * Whether the run image has `/bin/sh` (directly or through a merged `/usr`), found by reading its layers'
 * tar headers from the top down. Costs a read of the run image's layers; callers that know pass it instead.
 */
export async function runImageHasShell(image: Image): Promise<boolean> {
  for (const layer of [...image.layers].reverse()) {
    const extract = tar.extract();
    (await layer.uncompressed()).pipe(extract);
    let found = false;
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^\.?\/+/, '');
      if (SHELLS.has(name) && entry.header.type !== 'directory') found = true;
      entry.resume();
    }
    if (found) return true;
  }
  return false;
}
