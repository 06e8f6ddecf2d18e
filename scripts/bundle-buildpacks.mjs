#!/usr/bin/env node
// Bundles each TypeScript buildpack into its own directory, so a buildpack dir is self-contained: it runs
// wherever a lifecycle mounts it (lading mounts it at /cnb/buildpacks/<id>/<version>; pack copies it into a
// builder image) without reaching back into this repository. One ESM file per buildpack, node builtins left
// external, everything else (the SDK, smol-toml, semver, …) inlined. Output files are generated (.gitignore).
// Run by `npm run build`; `node scripts/bundle-buildpacks.mjs` on its own works too.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** entry (TypeScript) → the buildpack directory whose bin/ scripts import `./main.mjs`. */
export const BUNDLES = [
  { entry: 'buildpacks/lib/testing/main.ts', dirs: ['greeter', 'cacher', 'sbom-writer', 'npm-fetcher'].map((n) => `test/fixtures/buildpacks/sdk/${n}`) },
];

export async function bundleBuildpacks({ quiet = false } = {}) {
  for (const { entry, dirs } of BUNDLES) {
    for (const dir of dirs) {
      const outfile = join(root, dir, 'bin', 'main.mjs');
      await build({
        entryPoints: [join(root, entry)],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        legalComments: 'none',
        logLevel: quiet ? 'error' : 'warning',
        // CommonJS dependencies inside an ESM bundle need a require of their own.
        banner: { js: "import { createRequire as __ladingRequire } from 'node:module'; const require = __ladingRequire(import.meta.url);" },
      });
      if (!quiet) process.stderr.write(`bundled ${entry} → ${relative(root, outfile)}\n`);
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundleBuildpacks({ quiet: process.argv.includes('--quiet') });
}
