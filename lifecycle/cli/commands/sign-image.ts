import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  isLadingError, LadingError, MediaType, parseManifest, UnsupportedError,
  type ContentSink, type ContentSource, type Descriptor, type Digest,
} from '../../../registry/oci/index.js';
import { imageFromSource, readAll, verifiedStream } from '../../../registry/image/index.js';
import { familiarName, formatReference, type ImageReference } from '../../../registry/reference.js';
import { openSink, openSource, type OpenOptions } from '../../../registry/open.js';
import { openStoreSource } from '../../../registry/layout/index.js';
import {
  attestationCreated, bundleLayerOf, bundleReferrer, COSIGN_SIGN_PREDICATE_TYPE, imageStatement, isBundleReferrer, keySigner,
  readPrivateKey, readVerificationKey, signStatement, statementBytes, verifyImageAttestation,
  type Signer, type SigningKey, type TrustRoot, type VerificationKey, type VerifiedAttestation, type Witness,
} from '../../../sbom/attestation/index.js';

/** Flags every key-taking command shares. */
export interface KeyArgs {
  'passphrase-env'?: string;
}

/** The passphrase for an encrypted key: from the variable `--passphrase-env` names, else LADING_KEY_PASSPHRASE. Never argv. */
export function passphraseOf(args: KeyArgs, env: NodeJS.ProcessEnv): string | undefined {
  const name = args['passphrase-env'];
  if (name !== undefined) {
    if (env[name] === undefined) throw new LadingError('USAGE', `--passphrase-env ${name}: the variable ${name} is not set`);
    return env[name];
  }
  return env.LADING_KEY_PASSPHRASE;
}

async function readKeyFile(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new LadingError('KEY', `${flag} ${path}: cannot read the key file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
}

export async function loadSigningKey(path: string, args: KeyArgs, env: NodeJS.ProcessEnv, flag = '--key'): Promise<SigningKey> {
  const passphrase = passphraseOf(args, env);
  return readPrivateKey(await readKeyFile(path, flag), { what: `${flag} ${path}`, ...(passphrase !== undefined ? { passphrase } : {}) });
}

export async function loadVerificationKey(path: string, args: KeyArgs, env: NodeJS.ProcessEnv, flag = '--key'): Promise<VerificationKey> {
  const passphrase = passphraseOf(args, env);
  return readVerificationKey(await readKeyFile(path, flag), { what: `${flag} ${path}`, ...(passphrase !== undefined ? { passphrase } : {}) });
}

/** An image opened for attaching referrers: where to read it, where to write next to it, and what it is. */
export interface SignTarget {
  source: ContentSource;
  sinkRef: ImageReference;
  subject: Descriptor;
  /** The statement subject's name: the repository (empty for OCI layouts, as cosign leaves it). */
  name: string;
  /** The image's `created` (config), for the referrer's annotation. */
  created: string | undefined;
}

/** Opens `ref` where it lives (a store name missing from the store is the registry's), resolving its manifest. */
export async function openSignTarget(ref: ImageReference, options: OpenOptions, expected?: Digest): Promise<SignTarget> {
  if (ref.transport === 'oci-archive' || ref.transport === 'docker-archive') {
    throw new UnsupportedError(`${formatReference(ref)}: cannot attach signatures to an archive; copy it to oci:DIR or a registry first`);
  }
  let source: ContentSource;
  let sinkRef: ImageReference;
  let name: string;
  const bare = <T extends { tag?: string; digest?: Digest }>(r: T): T => ({ ...r, tag: undefined, digest: undefined });
  if (ref.transport === 'store') {
    source = await openStoreSource(ref, { env: options.env ?? process.env });
    const inStore = await source.resolve().then(() => true, async (err: unknown) => {
      if (!(isLadingError(err) && err.code === 'NOT_FOUND')) throw err;
      await source.close();
      return false;
    });
    if (inStore) sinkRef = { transport: 'store', name: { ...bare(ref.name), tag: ref.name.tag ?? 'latest' } };
    else {
      source = await openSource(ref.name, options);
      sinkRef = bare(ref.name);
    }
    name = familiarName(bare(ref.name));
  } else {
    source = await openSource(ref, options);
    sinkRef = bare(ref);
    name = ref.transport === 'docker' ? `${ref.registry}/${ref.repository}` : '';
  }
  try {
    const resolved = await source.resolve();
    const subject: Descriptor = { mediaType: resolved.mediaType, digest: resolved.digest, size: resolved.size };
    if (expected && resolved.digest !== expected) {
      throw new LadingError('SIGNATURE', `${formatReference(ref)} is now ${resolved.digest}, not ${expected} (written again meanwhile?); nothing was signed`);
    }
    let created: string | undefined;
    if (resolved.mediaType === MediaType.OciManifest || resolved.mediaType === MediaType.DockerManifest) {
      created = (await imageFromSource(source, subject)).config.created;
    }
    return { source, sinkRef, subject, name, created };
  } catch (err) {
    await source.close();
    throw err;
  }
}

export interface Attached {
  digest: Digest;
  predicateType: string;
}

/** How to sign: a signer and witnesses for @sigstore/sign; `signError` turns a signing failure into the user's error. */
export interface Signing {
  signer: Signer;
  witnesses?: Witness[];
  signError?: (err: unknown) => Error;
}

/** Signs one statement about the target and writes the bundle as its referrer. */
export async function attachAttestation(
  target: SignTarget, predicateType: string, predicate: Record<string, unknown>,
  signing: Signing, options: OpenOptions,
): Promise<Attached> {
  const statement = statementBytes(imageStatement(target.name, target.subject.digest, predicateType, predicate));
  const bundle = await signStatement(statement, signing).catch((err: unknown) => {
    throw signing.signError ? signing.signError(err) : err;
  });
  const referrer = bundleReferrer(bundle, target.subject, predicateType, attestationCreated(target.created, (options.env ?? process.env).SOURCE_DATE_EPOCH));
  const sink: ContentSink = await openSink(target.sinkRef, options);
  try {
    await sink.putBlob(referrer.config.descriptor, async () => Readable.from([referrer.config.bytes]));
    await sink.putBlob(referrer.bundle.descriptor, async () => Readable.from([referrer.bundle.bytes]));
    await sink.putManifest(referrer.manifestBytes, MediaType.OciManifest, { tag: false });
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
  return { digest: referrer.manifestDigest, predicateType };
}

/** A local key's Signing. */
export function keySigning(key: SigningKey): Signing {
  return { signer: keySigner(key) };
}

/** Signs the target: the cosign-style signature, plus whatever attestations are given. */
export async function signTarget(
  target: SignTarget, signing: Signing, attestations: { predicateType: string; predicate: Record<string, unknown> }[], options: OpenOptions,
): Promise<Attached[]> {
  const out = [await attachAttestation(target, COSIGN_SIGN_PREDICATE_TYPE, {}, signing, options)];
  for (const a of attestations) out.push(await attachAttestation(target, a.predicateType, a.predicate, signing, options));
  return out;
}

export interface VerifiedReferrer extends VerifiedAttestation {
  referrer: Digest;
}

/**
 * Every Sigstore bundle referrer of `subject` that verifies with `root` for this digest. Fails (SIGNATURE)
 * when there is none, or when none verifies; `failures` collects why each one did not.
 */
export async function verifiedReferrers(source: ContentSource, subject: Digest, root: TrustRoot): Promise<{ verified: VerifiedReferrer[]; failures: string[]; found: number }> {
  const referrers = (await source.referrers(subject)).filter(isBundleReferrer);
  const verified: VerifiedReferrer[] = [];
  const failures: string[] = [];
  for (const desc of referrers) {
    const what = `signature ${desc.digest}`;
    try {
      const fetched = await source.manifest(desc.digest, desc.mediaType);
      const parsed = parseManifest(fetched.bytes, what, fetched.mediaType);
      if (parsed.kind !== 'manifest' || parsed.manifest.subject?.digest !== subject) throw new LadingError('SIGNATURE', `${what}: is not a referrer of ${subject}`);
      const layer = bundleLayerOf(parsed.manifest);
      if (!layer) throw new LadingError('SIGNATURE', `${what}: has no Sigstore bundle layer`);
      const bytes = await readAll(verifiedStream(await source.blob(layer), layer, `${what} bundle`), 4 << 20, `${what} bundle`);
      verified.push({ ...verifyImageAttestation(bytes, root, subject, what), referrer: desc.digest });
    } catch (err) {
      if (!isLadingError(err) || !['SIGNATURE', 'CONTENT_INVALID', 'UNSUPPORTED'].includes(err.code)) throw err;
      failures.push(err.message);
    }
  }
  return { verified, failures, found: referrers.length };
}
