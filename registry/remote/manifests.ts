import {
  InvalidContentError, MANIFEST_MEDIA_TYPES, digestOf, isDigest, parseManifest,
  type Descriptor, type Digest, type FetchedManifest, type ParsedManifest,
} from '../oci/index.js';
import { readBody } from './auth.js';
import type { CallContext, RegistryClient } from './client.js';
import { describeUrl } from './errors.js';
import { repositoryScope } from './scope.js';

/** 2.8 refuses manifests over 4 MiB; anything much larger is not a manifest. */
const MAX_MANIFEST_BYTES = 8 << 20;

export interface RemoteManifest extends FetchedManifest {
  parsed: ParsedManifest;
}

export function acceptHeader(hint?: string): string {
  const types = hint && !MANIFEST_MEDIA_TYPES.includes(hint) ? [hint, ...MANIFEST_MEDIA_TYPES] : MANIFEST_MEDIA_TYPES;
  return types.join(', ');
}

function mediaTypeOf(header: string | string[] | undefined): string | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  return v?.split(';')[0]?.trim() || undefined;
}

/**
 * GETs a manifest by tag or digest with every manifest type in Accept, and verifies it: the bytes must
 * hash to the requested digest (when pulling by digest) and to the registry's Docker-Content-Digest.
 * Unknown media types are UNSUPPORTED.
 */
export async function fetchManifest(
  client: RegistryClient, ctx: CallContext, repository: string, reference: string, hint?: string,
): Promise<RemoteManifest> {
  const path = `/v2/${repository}/manifests/${reference}`;
  const res = await client.expect(
    { method: 'GET', url: path, repository, scopes: [repositoryScope(repository, ['pull'])], headers: { accept: acceptHeader(hint) } },
    [200],
    ctx,
  );
  const where = `${client.registry}/${repository}`;
  const declared = Number(res.headers['content-length']);
  if (declared > MAX_MANIFEST_BYTES) {
    await res.body.dump();
    throw new InvalidContentError(`${where}: manifest ${reference} is ${declared} bytes, more than a manifest may be`);
  }
  const { bytes: raw, truncated } = await readBody(res, MAX_MANIFEST_BYTES);
  if (truncated) throw new InvalidContentError(`${where}: manifest ${reference} is larger than ${MAX_MANIFEST_BYTES} bytes`);
  const digest = digestOf(raw);
  if (isDigest(reference) && digest !== reference) {
    throw new InvalidContentError(`${where}: manifest ${reference} does not match its digest (the registry sent content with digest ${digest})`);
  }
  const claimed = res.headers['docker-content-digest'];
  if (typeof claimed === 'string' && isDigest(claimed) && claimed !== digest) {
    throw new InvalidContentError(`${where}: manifest ${reference} has digest ${digest} but the registry's Docker-Content-Digest says ${claimed}`);
  }
  const parsed = parseManifest(raw, `${where} manifest ${reference}`, mediaTypeOf(res.headers['content-type']) ?? hint);
  return { bytes: raw, mediaType: parsed.mediaType, digest, parsed };
}

/** PUTs manifest bytes under a tag or digest and checks the digest the registry computed. */
export async function putManifestBytes(
  client: RegistryClient, ctx: CallContext, repository: string, reference: string, bytes: Buffer, mediaType: string,
): Promise<{ descriptor: Descriptor; subjectHeader: string | undefined }> {
  const digest = digestOf(bytes);
  const res = await client.expect(
    {
      method: 'PUT',
      url: `/v2/${repository}/manifests/${reference}`,
      repository,
      scopes: [repositoryScope(repository, ['pull', 'push'])],
      headers: { 'content-type': mediaType },
      body: bytes,
    },
    [200, 201],
    ctx,
  );
  await res.body.dump();
  const claimed = res.headers['docker-content-digest'];
  if (typeof claimed === 'string' && claimed !== '' && claimed !== digest) {
    throw new InvalidContentError(
      `${describeUrl(`${client.baseUrl}/v2/${repository}/manifests/${reference}`)}: the registry stored digest ${claimed}, expected ${digest}`,
    );
  }
  const subject = res.headers['oci-subject'];
  return { descriptor: { mediaType, digest: digest as Digest, size: bytes.byteLength }, subjectHeader: typeof subject === 'string' ? subject : undefined };
}
