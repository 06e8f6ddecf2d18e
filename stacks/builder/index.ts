export * from './stack-file.js';
export * from './lock-file.js';
export { AptSession, parseControlRecords, runCommand, sha256File, type AptChoice, type AptOptions, type CommandResult, type CommandRunner } from './apt.js';
export { extractDeb, isDroppedDoc, usrMerged, MERGED_DIRS, type DebEntry, type ExtractedDeb } from './deb.js';
export { imageTree, statusRecord, CA_BUNDLE, STATUS_DIR, type ImageTree } from './rootfs.js';
export * from './image-config.js';
export { excludePatternProblem, excludeRegExp, ExcludeSet } from './exclude.js';
export {
  buildStack, hostArchitecture, lockStack, resolveStack,
  type BuildStackOptions, type BuiltStack, type BuiltStackImage, type StackEvent, type StackOptions,
} from './build-stack.js';
