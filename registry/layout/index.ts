export { openLayoutSource, openLayoutDir, selectByReference, LayoutSource, type EntrySelector, type LayoutSourceOptions } from './layout-source.js';
export { openLayoutSink, LOCK_FILE, type LayoutSinkOptions } from './layout-sink.js';
export { refNameEntry, withEntry, withReferrer, withoutEntries, type EntryName } from './index-entries.js';
export {
  BLOBS_DIR, INDEX_FILE, OCI_LAYOUT_FILE, OCI_LAYOUT_BYTES, blobPath, checkLayoutDir, emptyIndex, parseLayoutIndex,
  readLayoutIndex, refNameOf, writeFileAtomic,
} from './layout-dir.js';
export { withFileLock, type FileLockOptions } from './lock.js';
export {
  listStoreImages, openStoreSink, openStoreSource, removeStoreImage, storeHome, storeLayoutDir, storeName,
  type StoreImage, type StoreOptions,
} from './store.js';
