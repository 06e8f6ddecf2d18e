/**
 * The buildpack contract (reference/cnb-spec/buildpack.md, Buildpack API 0.10–0.12), as pure typed modules
 * plus a few readers of the files buildpacks write. No phase logic lives here; lifecycle/phase composes these.
 *
 * - descriptors & catalog: buildpack.toml → BuildpackDescriptor; BuildpackCatalog.findBuildpack(id, version?)
 * - order & detect: expandOrder (Order Resolution), detect() with a DetectRunner (ProcessDetectRunner runs bin/detect)
 * - plan: parseDetectPlan, resolveBuildPlan (trials), group.toml / plan.toml / Buildpack Plan files, unmet entries
 * - build side: buildInvocation, readBuildOutputs (layers, launch/build/store.toml, SBOM files)
 * - env: env files and modification rules, build env of a buildpack, launch env of a process, filtered host env
 */
export * from './api-version.js';
export * from './toml-file.js';
export * from './descriptor.js';
export * from './catalog.js';
export * from './order.js';
export * from './build-plan.js';
export * from './plan-files.js';
export * from './detect.js';
export * from './child.js';
export * from './detect-runner.js';
export * from './invocation.js';
export * from './layer-metadata.js';
export * from './launch-toml.js';
export * from './build-outputs.js';
export * from './sbom-files.js';
export * from './env-files.js';
export * from './layer-env.js';
export * from './process-env.js';
