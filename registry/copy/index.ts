export * from './copy.js';
