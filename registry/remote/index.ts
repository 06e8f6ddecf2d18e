export { openRegistrySource } from './source.js';
export { openRegistrySink } from './sink.js';
export { BLOB_LOCATION_MIN_SIZE, fileBlobLocations, type BlobLocations } from './blob-locations.js';
export {
  RegistryClient, registryClient, clearRegistryClients, apiHost, baseUrlFor, isLoopbackHost,
  type RegistryOptions, type RegistryEvent, type RegistryRequest, type CallContext, type HttpMethod,
} from './client.js';
export {
  defaultCredentials, explicitCredentials, chainCredentials, anonymous, credentialFromHeader, credentialFromEntry,
  fromCredentialHelper, credentialFiles, serverUrlFor, DOCKER_HUB_SERVER,
  type Credential, type CredentialResolver, type CredentialEnvironment,
} from './credentials.js';
export { RegistryError, redact, type DistributionError } from './errors.js';
export { retryPolicy, parseRetryAfter, type RetryOptions, type RetryPolicy } from './retry.js';
export { fallbackTag, referrerDescriptor } from './referrers.js';
export { repositoryScope, unionScopes, scopesCover } from './scope.js';
export { parseWwwAuthenticate, pickChallenge, type Challenge } from './www-authenticate.js';
