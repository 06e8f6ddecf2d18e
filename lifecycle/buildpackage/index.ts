/**
 * Buildpackages (distribution.md "Buildpackage"): a buildpack and its dependencies as an OCI image or a `.cnb`
 * file, one layer per buildpack, with the labels pack and kpack read.
 */
export * from './package.js';
