import { Digester, InvalidContentError, digestOf, parseConfig, parseManifest, type Image } from '../oci/index.js';
import type { Readable } from 'node:stream';

async function measure(stream: Readable): Promise<{ digest: string; size: number }> {
  const d = new Digester();
  for await (const chunk of stream) d.update(chunk as Buffer);
  return { digest: d.digest(), size: d.size };
}

/**
 * Checks every digest, size and diffID of an image against its bytes (ggcr's validate.Image). Every test
 * that produces an image ends with this. Throws an InvalidContentError listing every problem found.
 */
export async function validateImage(image: Image): Promise<void> {
  const problems: string[] = [];
  const manifestDigest = digestOf(image.rawManifest);
  if (manifestDigest !== image.descriptor.digest) problems.push(`manifest digest ${image.descriptor.digest} != sha256 of its bytes ${manifestDigest}`);
  if (image.rawManifest.byteLength !== image.descriptor.size) problems.push(`manifest size ${image.descriptor.size} != ${image.rawManifest.byteLength}`);
  const parsed = parseManifest(image.rawManifest, 'manifest', image.descriptor.mediaType);
  if (parsed.kind !== 'manifest') throw new InvalidContentError('validate: not an image manifest');
  const m = parsed.manifest;
  const configDigest = digestOf(image.rawConfig);
  if (m.config.digest !== configDigest) problems.push(`config descriptor digest ${m.config.digest} != sha256 of config bytes ${configDigest}`);
  if (m.config.size !== image.rawConfig.byteLength) problems.push(`config descriptor size ${m.config.size} != ${image.rawConfig.byteLength}`);
  const config = parseConfig(image.rawConfig, 'config');
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== m.layers.length) problems.push(`${m.layers.length} manifest layers but ${diffIds.length} diff_ids`);
  if (image.layers.length !== m.layers.length) problems.push(`${m.layers.length} manifest layers but the image has ${image.layers.length}`);
  const nonEmptyHistory = (config.history ?? []).filter((h) => !h.empty_layer).length;
  if (config.history && nonEmptyHistory !== diffIds.length) problems.push(`${nonEmptyHistory} non-empty history entries for ${diffIds.length} layers`);
  for (const [i, layer] of image.layers.entries()) {
    const desc = m.layers[i];
    if (!desc) continue;
    if (desc.digest !== layer.digest || desc.size !== layer.size || desc.mediaType !== layer.mediaType) {
      problems.push(`layer ${i}: descriptor ${desc.digest}/${desc.size}/${desc.mediaType} != layer ${layer.digest}/${layer.size}/${layer.mediaType}`);
    }
    if (diffIds[i] !== layer.diffId) problems.push(`layer ${i}: config diff_id ${diffIds[i]} != layer diffId ${layer.diffId}`);
    try {
      const c = await measure(await layer.compressed());
      if (c.digest !== layer.digest) problems.push(`layer ${i}: blob sha256 ${c.digest} != digest ${layer.digest}`);
      if (c.size !== layer.size) problems.push(`layer ${i}: blob has ${c.size} bytes, descriptor says ${layer.size}`);
      const u = await measure(await layer.uncompressed());
      if (u.digest !== layer.diffId) problems.push(`layer ${i}: uncompressed sha256 ${u.digest} != diffId ${layer.diffId}`);
    } catch (err) {
      problems.push(`layer ${i}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new InvalidContentError(`image ${image.descriptor.digest} is invalid:\n  ${problems.join('\n  ')}`);
}
