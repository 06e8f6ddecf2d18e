import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { InvalidContentError, type Layer } from '../registry/oci/index.js';

/** Files larger than this are not read into memory (status records and copyright files are small). */
const MAX_FILE = 4 << 20;

/** `./a/b` or `/a/b` → `a/b`. */
export function cleanPath(name: string): string {
  return name.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
}

/** Reads the regular files `want` selects from one tar stream. */
export async function tarFiles(stream: Readable, want: (path: string) => boolean, what: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const path = cleanPath(header.name);
      if (header.type !== 'file' || !want(path) || (header.size ?? 0) > MAX_FILE) {
        body.on('end', next);
        body.resume();
        return;
      }
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      body.on('end', () => {
        out.set(path, Buffer.concat(chunks));
        next();
      });
      body.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', (err) => reject(new InvalidContentError(`${what}: not a readable tar: ${err.message}`, { cause: err })));
    stream.on('error', reject);
  });
  stream.pipe(extract);
  await done;
  return out;
}

/** dpkg's per-package status directory in distroless-style images (what syft, trivy and grype read). */
export const STATUS_D = 'var/lib/dpkg/status.d';

/**
 * The files `want` selects as the image's filesystem shows them after `layers` (in order): later layers
 * replace earlier files, and OCI whiteouts (`.wh.NAME`, opaque `.wh..wh..opq`) remove them.
 */
export async function filesOfLayers(layers: readonly Layer[], want: (path: string) => boolean, what: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const [i, layer] of layers.entries()) {
    const whiteouts: string[] = [];
    const found = await tarFiles(await layer.uncompressed(), (p) => {
      const base = p.slice(p.lastIndexOf('/') + 1);
      if (base.startsWith('.wh.')) {
        whiteouts.push(p);
        return false;
      }
      return want(p);
    }, `${what} layer ${i + 1} (${layer.diffId})`);
    for (const w of whiteouts) {
      const dir = w.includes('/') ? w.slice(0, w.lastIndexOf('/') + 1) : '';
      const base = w.slice(dir.length);
      if (base === '.wh..wh..opq') {
        for (const k of [...files.keys()]) if (k.startsWith(dir)) files.delete(k);
      } else {
        const gone = dir + base.slice(4);
        for (const k of [...files.keys()]) if (k === gone || k.startsWith(`${gone}/`)) files.delete(k);
      }
    }
    for (const [p, b] of found) files.set(p, b);
  }
  return files;
}
