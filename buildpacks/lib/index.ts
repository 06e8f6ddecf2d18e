export { contributeLayer, reuseDecision, type ContributionResult, type LayerContribution } from './contributor.js';
export { readBuildpackDescriptor, SBOM_MEDIA_TYPES, type BuildpackDescriptor, type SbomExtension } from './descriptor.js';
export {
  detectFail,
  detectPass,
  executeBuild,
  executeDetect,
  runBuild,
  runDetect,
  DETECT_FAIL,
  DETECT_PASS,
  ERROR_EXIT,
  type BuildContext,
  type BuildFunction,
  type DetectContext,
  type DetectFunction,
  type DetectResult,
  type PhaseContext,
  type ProcessIo,
} from './entry.js';
export { LayerEnv, PROCESS_TYPE_RE, type EnvScope } from './env.js';
export { BuildpackError, describeError, type BuildpackErrorCode } from './errors.js';
export { Layer, Layers, RESERVED_LAYER_NAMES, type LayerTypes } from './layer.js';
export { CONTENT_MARKER_SUFFIX, contentKey, contentMarkerPath, OFFERS_DIR, programDigest, takeOfferedTree, treeState, type ContentMarker } from './layer-content.js';
export { classifyLicense, licenseRefFor, spdxLicenseId, type License } from './licenses.js';
export { Logger, type LoggerOptions, type LogSink } from './logger.js';
export { buildTable, launchTable, readStore, writeBuildResult, type BuildResult, type Label, type Process, type Slice } from './outputs.js';
export { BuildpackPlan, buildPlanTable, readBuildpackPlan, type BuildPlan, type BuildpackPlanEntry, type PlanProvide, type PlanRequire } from './plan.js';
export { parseProcfile, type ProcfileEntry } from './procfile.js';
export { entryKind, finishReplayRecording, noteFreshUntil, noteUnsteady, REPLAY_KEY_ENV, REPLAY_LAYER, startReplayRecording, type InputKind } from './replay.js';
export { shellWords } from './shell-words.js';
export { bindingEntry, bindingRoot, bindingsOfType, readBindings, type Binding } from './bindings.js';
export { goArch, nodeArch, readPlatform, targetFromEnv, type Platform, type Target } from './platform.js';
export { contentUuid, cycloneDxDocument, sbomJson, sortedComponents, spdxDocument, type SbomComponent, type SbomOptions, type SbomTool } from './sbom.js';
export { isTable, parseTomlText, readTomlFile, writeTomlFile, type TomlTable } from './toml-file.js';
export * from './dependency/index.js';
