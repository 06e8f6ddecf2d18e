/**
 * Running buildpack processes so they see the build's app dir at `/workspace` and its layers at `/layers`
 * (design.md §1 "Paths are part of the contract"), through a private mount namespace without root:
 * bubblewrap, or `unshare` + mount(8) where bwrap is missing, or no namespace at all when the user chose
 * `--workspace`/`--layers-dir`.
 *
 * - Isolation (role): paths(dirs) → where a process sees the build's dirs; wrap(invocation, dirs) → what to run
 * - probeIsolation / availableIsolation (cached): find a working mechanism; NO_ISOLATION for the flag mode
 * - runProcess: run a wrapped invocation, streaming its output; IsolatedDetectRunner: detect in the namespace
 */
export * from './mounts.js';
export * from './commands.js';
export * from './isolation.js';
export * from './probe.js';
export * from './run.js';
export * from './sandbox.js';
