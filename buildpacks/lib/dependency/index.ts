export {
  aptClosure,
  installDebs,
  parseAptDepends,
  parseInstalledPackages,
  runImagePackages,
  RUN_IMAGE_PACKAGES_ENV,
  type AptClosureOptions,
  type InstallDebsOptions,
  type InstalledPackages,
  type ResolvedDeb,
} from './apt-closure.js';
export { AnswerMemo, sharedAnswersDir, SHARED_ANSWERS_DIR } from './answer-memo.js';
export { AptSource, debianSemver, debianUpstreamVersion, debPurl, parseAptRecords, type AptRecord, type AptSourceOptions } from './apt-source.js';
export { fetchCached, downloadLayerName, type CachedFetchOptions } from './cache.js';
export { CatalogSource, catalogFromMetadata, distOverride, type CatalogEntry, type CatalogSourceOptions, type DistOverride } from './catalog-source.js';
export { extractTarGz, type ExtractOptions } from './extract.js';
export { HostSource, type HostSourceOptions, type HostTool } from './host-source.js';
export { trustingDispatcher, type TrustOptions } from './http.js';
export { DownloadStore, DOWNLOAD_STORE_ENV } from './download-store.js';
export { hashFile, parseIntegrity, toIntegrity, verifyFile, type ExpectedDigest, type HashAlgorithm } from './integrity.js';
export { loadNpmConfig, NpmConfig, parseNpmrc, type NpmConfigOptions } from './npm-config.js';
export { NpmSource, npmPurl, type NpmSourceOptions } from './npm-source.js';
export { defaultSemverOf, resolveVersion, selectVersionRequest, type ResolveOptions, type VersionRequest } from './resolve.js';
export type { DependencyDescription, DependencySource, FetchedDependency } from './source.js';
