export * from './mutate.js';
