export { createLayer, createLayers, keptLayer } from './create-layer.js';
export { FileLayer } from './file-layer.js';
export {
  LayerError,
  NORMALIZED_MTIME,
  TAR_FORMAT_VERSION,
  DEFAULT_CONTENT_ID,
  MAX_TAR_ID,
  type DirectoryMapping,
  type DirEntry,
  type FileEntry,
  type HardlinkEntry,
  type LayerEntry,
  type LayerSpec,
  type LayerWriteOptions,
  type Owner,
  type SymlinkEntry,
  type WalkEntryInfo,
} from './spec.js';
export { planLayer, type PlannedEntry } from './plan.js';
export { DEFLATE_LEVEL, nativeMatchesPortable, probeKey, setDeflateProbeCache, type BlockDeflater } from './deflate-engine.js';
export { GZIP_BLOCK_SIZE } from './gzip-blocks.js';
