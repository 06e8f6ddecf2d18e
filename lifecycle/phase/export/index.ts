/** Parts of the exporter: launch config without a launcher, process scripts, slices, the layer-env label, shell probe, layer-digest memo. */
export * from './launch-config.js';
export * from './layer-digests.js';
export * from './layer-env-label.js';
export * from './run-image-shell.js';
export * from './slices.js';
