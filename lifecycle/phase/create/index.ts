/** What the creator needs around the phases: the build's private dirs and the app copy (project.toml include/exclude). */
export * from './build-dir.js';
export * from './workspace.js';
export * from './project-buildpacks.js';
export * from './run-image-choice.js';
export * from './default-builder.js';
export * from './layer-trees.js';
