import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { validateImage } from './validate.js';
import { randomImage, imageOf } from '../../test/support/random-image.js';

describe('validateImage', () => {
  it('accepts a well-formed random image (OCI and Docker, gzip and uncompressed)', async () => {
    await validateImage(await randomImage({ layers: 3 }));
    await validateImage(await randomImage({ layers: 2, docker: true, compressed: false }));
  });

  it('reports a layer whose bytes do not match its digest', async () => {
    const image = await randomImage({ layers: 2 });
    const [first, second] = image.layers;
    const tampered = { ...first!, compressed: async () => Readable.from([Buffer.from('not the layer')]) };
    await expect(validateImage(imageOf([tampered, second!]))).rejects.toThrow(/layer 0: blob sha256 .* != digest/);
  });

  it('reports a diffID that does not match the uncompressed bytes', async () => {
    const image = await randomImage({ layers: 1 });
    const layer = image.layers[0]!;
    const wrong = { ...layer, diffId: image.config.rootfs.diff_ids[0]!.replace(/.$/, (c) => (c === '0' ? '1' : '0')) as typeof layer.diffId };
    await expect(validateImage(imageOf([wrong]))).rejects.toThrow(/uncompressed sha256 .* != diffId/);
  });
});
