import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keepFile } from '../../registry/keep-file.js';
import type { Image } from '../../registry/oci/index.js';
// not the sbom barrel: analyze would load the SBOM libraries (packageurl-js, …) at every build's start
import { filesOfLayers, STATUS_D } from '../../sbom/image-files.js';

/**
 * lading's extension of the platform contract (docs/lifecycle.md "Run-image packages"): buildpacks that lay
 * out Debian packages in a layer (a JRE, a Python) learn which packages the run image already has from
 * `$LADING_RUN_IMAGE_PACKAGES/<flavor>.status`, dpkg status records of the run image, so they bring only what
 * is missing. The directory lives in the platform dir, which every isolation mode mounts.
 */
export const RUN_IMAGE_PACKAGES_ENV = 'LADING_RUN_IMAGE_PACKAGES';
const DIR = join('lading', 'run-images');

/** The dpkg records of an image (`var/lib/dpkg/status` and `status.d/*`), sorted by package, as one status text. */
export async function dpkgStatusText(image: Image, what: string): Promise<string> {
  const files = await filesOfLayers(image.layers, (p) => p === 'var/lib/dpkg/status' || (p.startsWith(`${STATUS_D}/`) && !p.endsWith('.md5sums')), what);
  const records: { name: string; text: string }[] = [];
  for (const bytes of files.values()) {
    for (const block of bytes.toString('utf8').split(/\n\s*\n/)) {
      const text = block.trim();
      const name = /^Package:\s*(\S+)/m.exec(text)?.[1];
      if (name) records.push({ name, text });
    }
  }
  records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.text < b.text ? -1 : 1));
  return records.map((r) => `${r.text}\n`).join('\n');
}

/**
 * {@link dpkgStatusText}, kept in `cacheDir` under a key of the image's layer diffIDs: reading a run image's
 * layers costs a few hundred milliseconds, every build, for the same answer. A damaged entry is only ever a
 * complete earlier answer (written to a temp name, then renamed).
 */
async function cachedStatusText(image: Image, what: string, cacheDir: string | undefined): Promise<string> {
  if (!cacheDir) return dpkgStatusText(image, what);
  const file = join(cacheDir, `${runImageKey(image)}.status`);
  const hit = await readFile(file, 'utf8').catch(() => undefined);
  if (hit !== undefined) return hit;
  const text = await dpkgStatusText(image, what);
  await keepFile(file, text);
  return text;
}

/** The name facts about a run image are kept under in the run-image cache dir: a hash of its layers' diffIDs. */
export function runImageKey(image: Image): string {
  return createHash('sha256').update(image.layers.map((l) => l.diffId).join('\n')).digest('hex');
}

/**
 * Writes `<platformDir>/lading/run-images/<flavor>.status` for each run image and returns the directory as
 * the buildpacks see it (`platformMount`, e.g. `/platform` in a namespace), for RUN_IMAGE_PACKAGES_ENV.
 * `cacheDir` keeps the lists between builds.
 */
export async function writeRunImagePackages(platformDir: string, platformMount: string, images: Readonly<Record<string, Image>>, cacheDir?: string): Promise<string> {
  const dir = join(platformDir, DIR);
  await mkdir(dir, { recursive: true });
  for (const [flavor, image] of Object.entries(images)) {
    await writeFile(join(dir, `${flavor}.status`), await cachedStatusText(image, `run image (${flavor})`, cacheDir));
  }
  return join(platformMount, DIR);
}
