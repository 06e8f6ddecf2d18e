import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.js';
import type { CallContext, RegistryClient } from './client.js';
import { isConnectionError, networkError, statusError } from './errors.js';
import { readLimited } from './auth.js';
import { repositoryScope } from './scope.js';

/**
 * A blob's bytes as a stream that survives a dropped connection: when the body breaks off, the rest is
 * requested with `Range: bytes=<received>-` (a registry that ignores Range answers 200; the bytes
 * already sent are then skipped). The first request happens before this returns, so a missing blob or a
 * refused login fails here rather than in the middle of the stream.
 */
export async function readBlob(client: RegistryClient, ctx: CallContext, repository: string, desc: Descriptor): Promise<Readable> {
  const url = `/v2/${repository}/blobs/${desc.digest}`;
  const what = `GET ${client.registry}/${repository} blob ${desc.digest}`;
  const get = (from: number) =>
    client.expect(
      {
        method: 'GET', url, repository, scopes: [repositoryScope(repository, ['pull'])], followRedirects: true,
        headers: from > 0 ? { range: `bytes=${from}-` } : {},
      },
      from > 0 ? [200, 206] : [200],
      ctx,
    );
  const first = await get(0);
  async function* bytes(): AsyncGenerator<Buffer> {
    let res = first;
    let received = 0;
    for (let resumes = 0; ; ) {
      let skip = res.statusCode === 200 ? received : 0;
      try {
        for await (const chunk of res.body) {
          let buf = chunk as Buffer;
          if (skip > 0) {
            const drop = Math.min(skip, buf.byteLength);
            buf = buf.subarray(drop);
            skip -= drop;
          }
          if (buf.byteLength === 0) continue;
          received += buf.byteLength;
          yield buf;
        }
        return;
      } catch (err) {
        if (!isConnectionError(err) || received >= desc.size) throw err;
        if (resumes++ >= ctx.policy.retries) throw networkError(what, err);
        const delay = ctx.policy.delay(resumes);
        ctx.emit({ type: 'retry', registry: client.registry, what, attempt: resumes, delayMs: delay, reason: `body cut off after ${received} bytes` });
        await ctx.policy.sleep(delay);
        res = await get(received);
        if (res.statusCode === 206 && !String(res.headers['content-range'] ?? '').startsWith(`bytes ${received}-`)) {
          throw statusError(206, `${what}: resumed at the wrong offset (${String(res.headers['content-range'])})`, await readLimited(res));
        }
      }
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}
