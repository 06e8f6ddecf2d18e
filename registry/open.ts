import type { ContentSink, ContentSource } from './oci/index.js';
import { NotFoundError, isLadingError, LadingError } from './oci/index.js';
import type { ImageReference, RegistryReference } from './reference.js';
import { openRegistrySink, openRegistrySource, defaultCredentials, type RegistryEvent, type RetryOptions } from './remote/index.js';
import { listStoreImages, openLayoutSink, openLayoutSource, openStoreSink, openStoreSource, type StoreImage } from './layout/index.js';
import { openDockerArchiveSink, openDockerArchiveSource, openOciArchiveSink, openOciArchiveSource } from './archive/index.js';

/** How to reach images: shared by every command (design §6). */
export interface OpenOptions {
  /** Registry hosts reached over plain http (loopback hosts always are). */
  insecure?: string[];
  /** Environment for LADING_HOME, credentials (CNB_REGISTRY_AUTH, DOCKER_CONFIG, …). Default process.env. */
  env?: NodeJS.ProcessEnv;
  retry?: RetryOptions;
  onRegistryEvent?: (event: RegistryEvent) => void;
}

function registryOptions(options: OpenOptions) {
  const env = options.env ?? process.env;
  return {
    insecure: options.insecure ?? [],
    credentials: defaultCredentials({ env }),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.onRegistryEvent ? { onEvent: options.onRegistryEvent } : {}),
  };
}

/** Opens the place `ref` names for reading. */
export async function openSource(ref: ImageReference, options: OpenOptions = {}): Promise<ContentSource> {
  const env = options.env ?? process.env;
  switch (ref.transport) {
    case 'docker':
      return openRegistrySource(ref, registryOptions(options));
    case 'oci':
      return openLayoutSource(ref);
    case 'oci-archive':
      return openOciArchiveSource(ref);
    case 'docker-archive':
      return openDockerArchiveSource(ref);
    case 'store':
      return openStoreOrRegistry(ref.name, options, env);
  }
}

/**
 * A bare name reads from the local store; when the store lacks it, from the registry of that name (as pack
 * pulls a builder or run image it does not have). If both fail, the error says so for both.
 */
async function openStoreOrRegistry(name: RegistryReference, options: OpenOptions, env: NodeJS.ProcessEnv): Promise<ContentSource> {
  const store = await openStoreSource({ transport: 'store', name }, { env });
  try {
    await store.resolve();
    return store;
  } catch (err) {
    if (!(isLadingError(err) && err.code === 'NOT_FOUND')) throw err;
    await store.close();
    const remote = await openRegistrySource(name, registryOptions(options));
    try {
      await remote.resolve();
      return remote;
    } catch (remoteErr) {
      await remote.close();
      const why = remoteErr instanceof Error ? remoteErr.message : String(remoteErr);
      if (isLadingError(remoteErr) && remoteErr.code !== 'NOT_FOUND') {
        throw new LadingError(remoteErr.code, `${err.message}; and from the registry: ${why}`, { cause: remoteErr });
      }
      throw new NotFoundError(`${err.message}; and from the registry: ${why}`, { cause: remoteErr });
    }
  }
}

/** Opens the place `ref` names for writing. Nothing is visible under its tag before `commit()`. */
export async function openSink(ref: ImageReference, options: OpenOptions = {}): Promise<ContentSink> {
  const env = options.env ?? process.env;
  switch (ref.transport) {
    case 'docker':
      return openRegistrySink(ref, registryOptions(options));
    case 'oci':
      return openLayoutSink(ref);
    case 'oci-archive':
      return openOciArchiveSink(ref);
    case 'docker-archive':
      return openDockerArchiveSink(ref);
    case 'store':
      return openStoreSink(ref, { env });
  }
}

export async function listLocalImages(options: OpenOptions = {}): Promise<StoreImage[]> {
  return listStoreImages({ env: options.env ?? process.env });
}
