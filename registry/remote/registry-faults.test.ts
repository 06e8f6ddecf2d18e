import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { imageFromSource, readAll, validateImage, writeImage } from '../image/index.js';
import type { Image, LadingError, Layer } from '../oci/index.js';
import { parseRegistryReference } from '../reference.js';
import { imageOf, randomImage } from '../../test/support/random-image.js';
import { startRegistry, type TestRegistry } from '../../test/support/registry.js';
import { requireTools } from '../../test/support/tools.js';
import { openRegistrySink, openRegistrySource, type RegistryEvent, type RegistryOptions } from './index.js';

const HAVE = requireTools('docker-registry', 'htpasswd', 'openssl');

/** The image with layer streams that trickle out in small pieces; `onChunk` sees each piece sent. */
function trickling(image: Image, onChunk: (layer: number, piece: number) => void): Image {
  const layers: Layer[] = image.layers.map((l, i) => ({
    ...l,
    compressed: async () => {
      const bytes = await readAll(await l.compressed());
      let piece = 0;
      return Readable.from((async function* () {
        for (let at = 0; at < bytes.byteLength; at += 16 * 1024) {
          onChunk(i, piece++);
          await sleep(3);
          yield bytes.subarray(at, at + 16 * 1024);
        }
      })());
    },
  }));
  return imageOf(layers);
}

let reg: TestRegistry | undefined;
afterEach(async () => {
  await reg?.stop();
  reg = undefined;
});

describe.skipIf(!HAVE)('the real registry dies in the middle of a push', () => {
  it('the push retries, completes after a restart, and the tagged image is whole', async () => {
    const r = (reg = await startRegistry());
    const image = await randomImage({ layers: 4, layerSize: 160_000, compressed: false });
    let killed = false;
    let restarted: Promise<void> | undefined;
    const slow = trickling(image, (layer, piece) => {
      if (layer === 1 && piece === 3 && !killed) {
        killed = true;
        restarted = r.kill().then(() => sleep(300)).then(() => r.restart());
      }
    });
    expect(slow.descriptor.digest).toBe(image.descriptor.digest);
    const events: RegistryEvent[] = [];
    const options: RegistryOptions = { retry: { retries: 12, minDelayMs: 40, maxDelayMs: 400 }, onEvent: (e) => events.push(e), credentials: async () => undefined };
    const sink = await openRegistrySink(parseRegistryReference(`${r.host}/fault/app:v1`), options);
    await writeImage(sink, slow);
    await sink.commit();
    await restarted;
    expect(killed).toBe(true);
    expect(events.filter((e) => e.type === 'retry').length).toBeGreaterThan(0);
    // At least one upload lost its connection mid-stream and was started over in a new session.
    expect(events.some((e) => e.type === 'retry' && e.what.startsWith('upload of'))).toBe(true);

    const source = await openRegistrySource(parseRegistryReference(`${r.host}/fault/app:v1`), options);
    const desc = await source.resolve();
    expect(desc.digest).toBe(image.descriptor.digest);
    await validateImage(await imageFromSource(source, desc));
  });

  it('when the registry stays down the push fails with NETWORK and no tag appears', async () => {
    const r = (reg = await startRegistry());
    const image = await randomImage({ layers: 3, layerSize: 100_000, compressed: false });
    let killed: Promise<void> | undefined;
    const slow = trickling(image, (layer, piece) => {
      if (layer === 2 && piece === 2 && !killed) killed = r.kill();
    });
    const options: RegistryOptions = { retry: { retries: 3, minDelayMs: 10, maxDelayMs: 40 }, credentials: async () => undefined };
    const sink = await openRegistrySink(parseRegistryReference(`${r.host}/fault/down:v1`), options);
    const err = (await writeImage(sink, slow).then(() => sink.commit()).catch((e: unknown) => e)) as LadingError;
    await sink.abort();
    await killed;
    expect(err.code).toBe('NETWORK');
    expect(err.temporary).toBe(true);
    expect(err.message).toContain(r.host);
    await r.restart();
    const source = await openRegistrySource(parseRegistryReference(`${r.host}/fault/down:v1`), options);
    await expect(source.resolve()).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
