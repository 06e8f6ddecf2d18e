/**
 * The lifecycle phases (platform.md "Operations"): each a module with typed input and output.
 */
export * from './analyzer.js';
export * from './restorer.js';
export * from './exporter.js';
export * from './detector.js';
export * from './builder.js';
export * from './creator.js';
export * from './rebaser.js';
export { parseBindingVolume, BINDINGS_MOUNT, type BindingVolume } from './bindings.js';
export { RUN_IMAGE_PACKAGES_ENV } from './run-packages.js';
