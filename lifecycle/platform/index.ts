export * from './exit-codes.js';
export * from './features.js';
export * from './project-descriptor.js';
