export { openOciArchiveSink, openOciArchiveSource, UnpackedSource } from './oci-archive.js';
export { openDockerArchiveSink, openDockerArchiveSource } from './docker-archive.js';
export {
  ANNOTATION_IMAGE_NAME, MANIFEST_JSON, REPOSITORIES, normalizeRepoTag, parseDockerManifestJson, withArchiveEntry,
  type DockerArchiveEntry,
} from './docker-manifest.js';
export { StagedArchiveSink, type ArchiveOptions, type StagedArchiveHooks } from './archive-staging.js';
export { extractTar, packDirectory, pathInside } from './tar-files.js';
