#!/usr/bin/env node
// Bundles the compiled CLI (dist/lifecycle/cli/main.js, from tsc) into dist/bundle/: one entry plus chunks for
// what the CLI imports on demand (each command, the signing and SBOM libraries). Node 20 resolves and reads
// every ESM file separately — about 0.15 s of each `lading` run for the few hundred modules of a build, part
// of every no-op rebuild — and it has no compile cache to remember them. bin/lading starts the bundle when it
// is at least as new as dist/; the unbundled modules stay the library the tests import.
// Kept external: the CycloneDX library (it finds its JSON schemas next to its own files) and the optional
// XML plug-ins it probes for. Run by `npm run build` after tsc; `node scripts/bundle-cli.mjs` on its own works too.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitEsmBundle } from './bundle-buildpacks.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_BUNDLE = join(root, 'dist', 'bundle', 'lading.mjs');

export async function bundleCli({ quiet = false } = {}) {
  const outdir = dirname(CLI_BUNDLE);
  rmSync(outdir, { recursive: true, force: true });
  await splitEsmBundle({ lading: join(root, 'dist', 'lifecycle', 'cli', 'main.js') }, outdir, {
    quiet,
    external: ['@cyclonedx/cyclonedx-library', 'xmlbuilder2', 'libxmljs2'],
  });
  if (!quiet) process.stderr.write(`bundled dist/lifecycle/cli/main.js → dist/bundle/lading.mjs\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundleCli({ quiet: process.argv.includes('--quiet') });
}
