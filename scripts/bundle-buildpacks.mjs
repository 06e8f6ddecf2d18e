#!/usr/bin/env node
// Bundles each TypeScript buildpack into its own directory, so a buildpack dir is self-contained: it runs
// wherever a lifecycle mounts it (lading mounts it at /cnb/buildpacks/<id>/<version>; pack copies it into a
// builder image) without reaching back into this repository. One ESM entry (bin/main.mjs) per buildpack (and
// bin/detect.mjs where it has a src/detect.ts), node
// builtins left external, everything else (the SDK, smol-toml, semver, …) inlined; what the code imports
// dynamically (undici, execa on paths a rebuild rarely takes) goes to bin/chunks/, so a detect or a no-op build
// does not parse a megabyte it never runs. Output files are generated (.gitignore).
// Run by `npm run build`; `node scripts/bundle-buildpacks.mjs` on its own works too.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';
import { existsSync, readdirSync, rmSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What to bundle: every buildpack of ours (`buildpacks/<name>/` holding `buildpack.toml` and `src/main.ts`
 * → `buildpacks/<name>/bin/main.mjs`), plus the SDK's fixture buildpacks, which share one entry.
 */
export function bundles() {
  const ours = readdirSync(join(root, 'buildpacks'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, 'buildpacks', d.name, 'buildpack.toml')) && existsSync(join(root, 'buildpacks', d.name, 'src', 'main.ts')))
    .map((d) => ({
      entry: `buildpacks/${d.name}/src/main.ts`,
      // src/detect.ts (exporting `detect`), where a buildpack has one, also goes to bin/detect.mjs for
      // bin/detect: detection without the build's code, which a detect would otherwise parse on every build
      ...(existsSync(join(root, 'buildpacks', d.name, 'src', 'detect.ts')) ? { detect: `buildpacks/${d.name}/src/detect.ts` } : {}),
      dirs: [`buildpacks/${d.name}`],
    }));
  const fixtures = { entry: 'buildpacks/lib/testing/main.ts', dirs: ['greeter', 'cacher', 'sbom-writer', 'npm-fetcher'].map((n) => `test/fixtures/buildpacks/sdk/${n}`) };
  return [...ours, fixtures];
}

/**
 * esbuild into `outdir`: ESM for Node 20, one file per entry and `chunks/` for what is imported dynamically
 * (its old chunks removed first), node builtins and `external` packages left out. Beware: a dynamic
 * `import()` of a CommonJS package yields only `default` in a split bundle (Node's own loader also names the
 * exports), so such code reads `m.default ?? m` (see buildpacks/lib/dependency/http.ts).
 */
export async function splitEsmBundle(entryPoints, outdir, { quiet = false, external = [], pure = PURE_PACKAGES } = {}) {
  rmSync(join(outdir, 'chunks'), { recursive: true, force: true });
  await build({ ...esmOptions({ quiet, external, pure }), entryPoints, outdir, splitting: true, chunkNames: 'chunks/[name]-[hash]', outExtension: { '.js': '.mjs' } });
}

/**
 * bin/detect.mjs: the SDK's runDetect with `detect` exported by `detectModule`, run as bin/detect starts the
 * file, as one self-contained file (no chunks). Split with main.mjs, esbuild would put every module both reach through the
 * SDK's barrel into one shared chunk, which is most of the build's code.
 */
export async function detectBundle(detectModule, outfile, { quiet = false, pure = PURE_PACKAGES } = {}) {
  const contents = [
    `import { detect } from ${JSON.stringify(detectModule)};`,
    `import { runDetect } from ${JSON.stringify(join(root, 'buildpacks', 'lib', 'entry.ts'))};`,
    // run when bin/detect starts this file
    'await runDetect(detect);',
  ].join('\n');
  await build({ ...esmOptions({ quiet, external: [], pure }), stdin: { contents, resolveDir: dirname(detectModule), sourcefile: 'detect-entry.ts', loader: 'ts' }, outfile });
}

function esmOptions({ quiet, external, pure }) {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    legalComments: 'none',
    external,
    plugins: [sideEffectFree(pure), lazyDefault(LAZY_DEFAULT_PACKAGES)],
    logLevel: quiet ? 'error' : 'warning',
    // CommonJS dependencies inside an ESM bundle need a require of their own.
    banner: { js: "import { createRequire as __ladingRequire } from 'node:module'; const require = __ladingRequire(import.meta.url);" },
  };
}

/**
 * Packages whose modules only define things when loaded. They do not say so in their package.json
 * (`sideEffects`), so esbuild keeps every `import` of them even where nothing imported is used: a detect that
 * never compares versions would load all of semver (70 KB) through the SDK's barrel. Marking them lets an
 * unused import go.
 */
export const PURE_PACKAGES = ['semver', 'spdx-license-ids', 'spdx-exceptions', 'smol-toml'];

/**
 * Packages whose module bodies cost start-up time for what only some runs use, given a default export that is
 * a function: each import of them gets a stand-in that loads the real module (bundled as esbuild's lazily
 * initialised require) on its first call. string-width, which yargs and cliui use only to lay out help text,
 * builds an Intl.Segmenter and \p{RGI_Emoji} regular expressions as it loads: ~28 ms of every `lading` run on
 * a slow VM (the ICU data behind them), none of it needed by a build.
 */
export const LAZY_DEFAULT_PACKAGES = ['string-width'];

/**
 * For a plugin's onResolve: esbuild's own resolution of `args` (the plugin's resolve call comes back through its
 * hook, marked `plugin`, and is left alone then), changed by `then`; resolution errors as they are.
 */
async function resolvedThen(b, args, plugin, then) {
  if (args.pluginData?.resolvedBy === plugin) return undefined;
  const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { resolvedBy: plugin } });
  return r.errors.length ? { errors: r.errors } : then(r);
}

function lazyDefault(packages) {
  const filter = new RegExp(`^(${packages.join('|')})$`);
  return {
    name: 'lazy-default',
    setup(b) {
      b.onResolve({ filter }, (args) => resolvedThen(b, args, 'lazy-default', (r) => ({ path: r.path, namespace: 'lazy-default' })));
      b.onLoad({ filter: /.*/, namespace: 'lazy-default' }, (args) => ({
        contents: `let real;\nexport default function lazy(...a) { return (real ??= require(${JSON.stringify(args.path)}).default)(...a); }\n`,
        resolveDir: dirname(args.path),
        loader: 'js',
      }));
    },
  };
}

function sideEffectFree(packages) {
  const filter = new RegExp(`^(${packages.join('|')})(/|$)`); // package names: letters, digits, '-'
  return {
    name: 'side-effect-free',
    setup(b) {
      b.onResolve({ filter }, (args) => resolvedThen(b, args, 'side-effect-free', (r) => ({ ...r, sideEffects: false })));
    },
  };
}

export async function bundleBuildpacks({ quiet = false } = {}) {
  for (const { entry, detect, dirs } of bundles()) {
    for (const dir of dirs) {
      const outdir = join(root, dir, 'bin');
      const outfile = join(outdir, 'main.mjs');
      await splitEsmBundle({ main: join(root, entry) }, outdir, { quiet });
      if (detect) await detectBundle(join(root, detect), join(outdir, 'detect.mjs'), { quiet });
      if (!quiet) process.stderr.write(`bundled ${entry} → ${relative(root, outfile)}\n`);
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundleBuildpacks({ quiet: process.argv.includes('--quiet') });
}
