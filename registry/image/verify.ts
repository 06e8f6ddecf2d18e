import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { Digester, InvalidContentError, type Descriptor } from '../oci/index.js';

/**
 * Passes bytes through unchanged and fails the stream at its end if digest or size differ from `desc`.
 * `what` names the blob's location in the error (e.g. `oci:/tmp/x blob sha256:…`).
 */
export function verifying(desc: Pick<Descriptor, 'digest' | 'size'>, what: string): Transform {
  const digester = new Digester();
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      digester.update(chunk);
      if (digester.size > desc.size) {
        cb(new InvalidContentError(`${what}: blob is larger than the ${desc.size} bytes its descriptor declares`));
        return;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const got = digester.digest();
      if (digester.size !== desc.size) {
        cb(new InvalidContentError(`${what}: blob has ${digester.size} bytes, its descriptor declares ${desc.size}`));
      } else if (got !== desc.digest) {
        cb(new InvalidContentError(`${what}: content does not match its digest ${desc.digest} (got ${got})`));
      } else {
        cb();
      }
    },
  });
}

/** `stream` piped through `verifying`, with errors of either side surfacing on the returned stream. */
export function verifiedStream(stream: Readable, desc: Pick<Descriptor, 'digest' | 'size'>, what: string): Readable {
  const check = verifying(desc, what);
  stream.on('error', (err) => check.destroy(err));
  return stream.pipe(check);
}

export async function readAll(stream: Readable, limit = Number.POSITIVE_INFINITY, what = 'stream'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    total += buf.byteLength;
    if (total > limit) {
      stream.destroy();
      throw new InvalidContentError(`${what}: larger than the ${limit}-byte limit`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
