import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { deflaterFor, nativeDeflater, nativeMatchesPortable, portableDeflater, probeData, type BlockDeflater } from './deflate-engine.js';
import { GZIP_BLOCK_SIZE, GZIP_HEADER, GzipBlockWriter } from './gzip-blocks.js';
import { pseudoRandomBytes, pseudoText } from './sample-tree.js';

async function gzipWith(deflater: BlockDeflater, data: Buffer, chunk = 65536): Promise<Buffer> {
  const out: Buffer[] = [];
  const writer = new GzipBlockWriter(deflater, async (c) => {
    out.push(Buffer.from(c));
  });
  for (let i = 0; i < data.byteLength; i += chunk) await writer.write(data.subarray(i, i + chunk));
  await writer.end();
  return Buffer.concat(out);
}

const B = GZIP_BLOCK_SIZE;
const corpora: Record<string, () => Buffer> = {
  empty: () => Buffer.alloc(0),
  'one byte': () => Buffer.from('x'),
  'probe data': () => probeData(),
  'text, one block minus one': () => pseudoText(B - 1, 1),
  'text, exactly one block': () => pseudoText(B, 2),
  'text, one block plus one': () => pseudoText(B + 1, 3),
  'random + zeros + text, 3 blocks and a bit': () => Buffer.concat([pseudoRandomBytes(B, 4), Buffer.alloc(B), pseudoText(B + 5, 5)]),
  'the node binary (first 3 MiB)': () => readFileSync(process.execPath).subarray(0, 3 * B),
};

describe('block gzip', () => {
  for (const [name, make] of Object.entries(corpora)) {
    it(`native zlib and portable pako write identical, valid gzip: ${name}`, async () => {
      const data = make();
      const native = await gzipWith(nativeDeflater, data);
      const portable = await gzipWith(portableDeflater(), data);
      expect(native.subarray(0, 10)).toEqual(GZIP_HEADER);
      expect(gunzipSync(native).equals(data)).toBe(true); // gunzip checks the CRC-32 and size trailer
      expect(portable.equals(native)).toBe(true);
    });
  }

  it('does not depend on how the input is chunked', async () => {
    const data = Buffer.concat([pseudoText(B + 777, 9), pseudoRandomBytes(B / 2, 10)]);
    const reference = await gzipWith(nativeDeflater, data, 65536);
    for (const chunk of [1000, 512 * 1024 + 3, 3 * B]) {
      expect((await gzipWith(nativeDeflater, data, chunk)).equals(reference)).toBe(true);
    }
  });

  it('costs less than 0.1% over a single deflate stream on text', async () => {
    const data = pseudoText(4 * B, 11);
    const blocks = await gzipWith(nativeDeflater, data);
    const { gzipSync } = await import('node:zlib');
    const whole = gzipSync(data, { level: 6 });
    expect(blocks.byteLength / whole.byteLength).toBeLessThan(1.001);
  });

  it('auto picks native zlib only when it matches the portable bytes', async () => {
    const matches = await nativeMatchesPortable();
    const engine = await deflaterFor('auto');
    expect(engine.name).toBe(matches ? 'native' : 'portable');
    expect((await deflaterFor('portable')).name).toBe('portable');
  });

  it('surfaces engine failures instead of writing a broken stream', async () => {
    const failing: BlockDeflater = { name: 'native', parallelism: 2, deflate: async () => Promise.reject(new Error('boom')) };
    await expect(gzipWith(failing, pseudoText(3 * B, 12))).rejects.toThrow('boom');
  });
});
