import { Readable } from 'node:stream';
import { InvalidContentError, LadingError, type Descriptor, type RepositoryLocation } from '../oci/index.js';
import { verifiedStream } from '../image/index.js';
import type { CallContext, RegistryClient } from './client.js';
import { isConnectionError } from './errors.js';
import { repositoryScope } from './scope.js';

export interface UploadOptions {
  /** Try a cross-repository mount from here first (same registry only). */
  from?: RepositoryLocation;
  monolithicLimit: number;
  chunkSize: number;
  /** Upload sessions in progress, so an abort can cancel them. */
  sessions: Set<string>;
}

function locationOf(client: RegistryClient, res: { headers: Record<string, string | string[] | undefined> }, what: string): URL {
  const loc = res.headers.location;
  if (typeof loc !== 'string' || loc === '') throw new LadingError('REGISTRY', `${what}: the registry started an upload without a Location`);
  return new URL(loc, client.baseUrl);
}

function withDigest(location: URL, desc: Descriptor): string {
  const u = new URL(location);
  u.searchParams.set('digest', desc.digest);
  return u.toString();
}

/** Whether a failed upload attempt may succeed when started over. */
function restartable(err: unknown): boolean {
  if (err instanceof LadingError) return err.temporary;
  return isConnectionError(err);
}

/** Reads a stream in pieces of `size` bytes (the last may be shorter). */
async function* chunks(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const c of stream) {
    let buf = c as Buffer;
    while (buf.byteLength > 0) {
      const take = Math.min(size - have, buf.byteLength);
      parts.push(buf.subarray(0, take));
      have += take;
      buf = buf.subarray(take);
      if (have === size) {
        yield Buffer.concat(parts);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts);
}

/**
 * Uploads one blob into `repository`: a cross-repo mount when `from` is given, else POST + PUT
 * (monolithic) or POST + PATCH… + PUT (chunked, in order). A failed attempt is abandoned (its session
 * deleted) and started over with fresh content from `open`, up to the retry limit.
 */
export async function uploadBlob(
  client: RegistryClient, ctx: CallContext, repository: string, desc: Descriptor,
  open: () => Promise<Readable>, options: UploadOptions,
): Promise<'uploaded' | 'mounted'> {
  const what = `${client.registry}/${repository} blob ${desc.digest}`;
  let mountFrom = options.from && options.from.registry === client.registry && options.from.repository !== repository ? options.from : undefined;
  for (let attempt = 0; ; attempt++) {
    let session: URL | undefined;
    let content: Readable | undefined;
    let contentError: unknown;
    try {
      const scopes = [repositoryScope(repository, ['pull', 'push'])];
      let url = `/v2/${repository}/blobs/uploads/`;
      if (mountFrom) {
        scopes.push(repositoryScope(mountFrom.repository, ['pull']));
        url += `?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(mountFrom.repository)}`;
      }
      let started;
      try {
        started = await client.expect({ method: 'POST', url, repository, scopes, headers: { 'content-length': '0' } }, [201, 202], ctx);
      } catch (err) {
        // No pull access to the source repository: upload instead of mounting.
        if (!mountFrom || !(err instanceof LadingError) || err.code !== 'AUTH') throw err;
        mountFrom = undefined;
        attempt--;
        continue;
      }
      await started.body.dump();
      if (started.statusCode === 201) return 'mounted';
      mountFrom = undefined; // the registry declined the mount (202): upload into the session it opened
      session = locationOf(client, started, what);
      options.sessions.add(session.toString());
      content = verifiedStream(await open(), desc, `${what} (source content)`);
      content.on('error', (e) => {
        contentError ??= e;
      });
      let done;
      if (desc.size <= options.monolithicLimit) {
        done = await client.expect(
          {
            method: 'PUT', url: withDigest(session, desc), repository, scopes,
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) }, body: content,
          },
          [201, 204],
          ctx,
        );
      } else {
        let offset = 0;
        for await (const chunk of chunks(content, options.chunkSize)) {
          const res = await client.expect(
            {
              method: 'PATCH', url: session.toString(), repository, scopes,
              headers: {
                'content-type': 'application/octet-stream',
                'content-length': String(chunk.byteLength),
                'content-range': `${offset}-${offset + chunk.byteLength - 1}`,
              },
              // A stream, not a Buffer: a PATCH must never be replayed (2.8 would append the bytes twice).
              body: Readable.from([chunk]),
            },
            [202, 204],
            ctx,
          );
          await res.body.dump();
          options.sessions.delete(session.toString());
          session = locationOf(client, res, what);
          options.sessions.add(session.toString());
          offset += chunk.byteLength;
          ctx.emit({ type: 'upload-progress', registry: client.registry, repository, digest: desc.digest, sent: offset, size: desc.size });
        }
        done = await client.expect(
          { method: 'PUT', url: withDigest(session, desc), repository, scopes, headers: { 'content-length': '0' }, body: Buffer.alloc(0) },
          [201, 204],
          ctx,
        );
      }
      await done.body.dump();
      options.sessions.delete(session.toString());
      const claimed = done.headers['docker-content-digest'];
      if (typeof claimed === 'string' && claimed !== '' && claimed !== desc.digest) {
        throw new InvalidContentError(`${what}: the registry stored it as ${claimed}`);
      }
      return 'uploaded';
    } catch (caught) {
      // Bad source content explains whatever the registry said about it.
      const err = contentError instanceof LadingError ? contentError : caught;
      content?.destroy();
      if (session) {
        options.sessions.delete(session.toString());
        await cancelUpload(client, ctx, repository, session.toString());
      }
      if (!restartable(err) || attempt >= ctx.policy.retries) throw err;
      const delay = ctx.policy.delay(attempt + 1);
      ctx.emit({ type: 'retry', registry: client.registry, what: `upload of ${what}`, attempt: attempt + 1, delayMs: delay, reason: (err as Error).message });
      await ctx.policy.sleep(delay);
    }
  }
}

/** Best-effort DELETE of an upload session; failures are ignored (the registry expires sessions itself). */
export async function cancelUpload(client: RegistryClient, ctx: CallContext, repository: string, session: string): Promise<void> {
  try {
    const res = await client.send(
      { method: 'DELETE', url: session, repository, scopes: [repositoryScope(repository, ['pull', 'push'])] },
      { ...ctx, policy: { ...ctx.policy, retries: 0 } },
    );
    await res.body.dump();
  } catch {
    // unreachable registry or session already gone: nothing to clean up from here
  }
}
