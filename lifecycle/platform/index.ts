/**
 * The platform side (reference/cnb-spec/platform.md, Platform API 0.15): exit codes, the features object
 * computed once from the Platform and Buildpack API versions, and project.toml.
 */
export * from './exit-codes.js';
export * from './features.js';
export * from './project-descriptor.js';
export * from './labels.js';
export * from './report.js';
export * from './builder-config.js';
