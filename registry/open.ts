import type { ContentSink, ContentSource } from './oci/index.js';
import { NotFoundError, isLadingError, LadingError } from './oci/index.js';
import type { ImageReference, RegistryReference } from './reference.js';
import type { RegistryEvent, RetryOptions } from './remote/index.js';
import type { StoreImage } from './layout/index.js';

// Transports load on first use: a CLI run that never touches a registry never loads the HTTP client.
const remote = () => import('./remote/index.js');
const layout = () => import('./layout/index.js');
const archive = () => import('./archive/index.js');

/** How to reach images: shared by every command (design §6). */
export interface OpenOptions {
  /** Registry hosts reached over plain http (loopback hosts always are). */
  insecure?: string[];
  /** Environment for LADING_HOME, credentials (CNB_REGISTRY_AUTH, DOCKER_CONFIG, …). Default process.env. */
  env?: NodeJS.ProcessEnv;
  retry?: RetryOptions;
  onRegistryEvent?: (event: RegistryEvent) => void;
  /** Remember where large blobs were pushed, here, and mount them from there on later pushes (the CLI: LADING_HOME/cache/blob-locations). */
  blobLocationsDir?: string;
}

async function registryOptions(options: OpenOptions) {
  const env = options.env ?? process.env;
  return {
    insecure: options.insecure ?? [],
    credentials: (await remote()).defaultCredentials({ env }),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.onRegistryEvent ? { onEvent: options.onRegistryEvent } : {}),
    ...(options.blobLocationsDir ? { blobLocations: (await remote()).fileBlobLocations(options.blobLocationsDir) } : {}),
  };
}

/** Opens the place `ref` names for reading. */
export async function openSource(ref: ImageReference, options: OpenOptions = {}): Promise<ContentSource> {
  const env = options.env ?? process.env;
  switch (ref.transport) {
    case 'docker':
      return (await remote()).openRegistrySource(ref, await registryOptions(options));
    case 'oci':
      return (await layout()).openLayoutSource(ref);
    case 'oci-archive':
      return (await archive()).openOciArchiveSource(ref);
    case 'docker-archive':
      return (await archive()).openDockerArchiveSource(ref);
    case 'store':
      return openStoreOrRegistry(ref.name, options, env);
  }
}

/**
 * A bare name reads from the local store; when the store lacks it, from the registry of that name (as pack
 * pulls a builder or run image it does not have). If both fail, the error says so for both.
 */
async function openStoreOrRegistry(name: RegistryReference, options: OpenOptions, env: NodeJS.ProcessEnv): Promise<ContentSource> {
  const store = await (await layout()).openStoreSource({ transport: 'store', name }, { env });
  try {
    await store.resolve();
    return store;
  } catch (err) {
    if (!(isLadingError(err) && err.code === 'NOT_FOUND')) throw err;
    await store.close();
    const remoteSource = await (await remote()).openRegistrySource(name, await registryOptions(options));
    try {
      await remoteSource.resolve();
      return remoteSource;
    } catch (remoteErr) {
      await remoteSource.close();
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
      return (await remote()).openRegistrySink(ref, await registryOptions(options));
    case 'oci':
      return (await layout()).openLayoutSink(ref);
    case 'oci-archive':
      return (await archive()).openOciArchiveSink(ref);
    case 'docker-archive':
      return (await archive()).openDockerArchiveSink(ref);
    case 'store':
      return (await layout()).openStoreSink(ref, { env });
  }
}

export async function listLocalImages(options: OpenOptions = {}): Promise<StoreImage[]> {
  return (await layout()).listStoreImages({ env: options.env ?? process.env });
}
