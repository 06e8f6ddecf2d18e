/** What the creator needs around the phases: the build's private dirs and the app copy (project.toml include/exclude). */
export * from './build-dir.js';
export * from './workspace.js';
