/**
 * Builder images (pack's builder layout) and the buildpack layers they share with buildpackages:
 * - labels: io.buildpacks.builder.metadata, buildpack.layers, buildpack.order, buildpack.system, io.lading.builder
 * - modules: a buildpack version as one `/cnb/buildpacks/<id>/<version>` layer (from a dir or an image)
 * - create: builder.toml + build image + modules → a builder image
 * - open: a builder image → what `lading build -B IMAGE` needs (buildpacks unpacked once, by diffID)
 * - rootfs: the builder's filesystem unpacked for sandboxed builds
 */
export * from './labels.js';
export * from './modules.js';
export * from './node-layer.js';
export * from './create.js';
export * from './open.js';
export * from './rootfs.js';
