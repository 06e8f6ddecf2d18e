export * from './verify.js';
export * from './bounded-map.js';
export * from './source-image.js';
export * from './validate.js';
export * from './write.js';
