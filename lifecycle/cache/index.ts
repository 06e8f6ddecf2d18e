/**
 * The layer cache (platform.md "Caching", buildpack.md "Layer Types"): `cache=true` layers kept between builds
 * in a directory (`--cache-dir`) or an image (`--cache-image`) behind one interface, `LayerCache`.
 */
export * from './cache.js';
export * from './dir-cache.js';
export * from './image-cache.js';
export * from './extract.js';
export * from './restored-trees.js';
