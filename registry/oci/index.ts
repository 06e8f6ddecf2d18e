export * from './digest.js';
export * from './errors.js';
export * from './media-types.js';
export * from './json.js';
export * from './descriptor.js';
export * from './manifest.js';
export * from './config.js';
export * from './image.js';
