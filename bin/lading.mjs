#!/usr/bin/env node
// The CLI's entry, started by bin/lading (which says why that is a shell script). The CLI is compiled to
// dist/ by `npm ci` (the prepare script) or `npm run build`, which also bundles it into dist/bundle/lading.mjs
// (scripts/bundle-cli.mjs: one file loads faster than hundreds). The bundle is used when it is at least as new
// as the compiled modules; a bare `tsc` leaves it older, and the modules are run then.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'lifecycle', 'cli', 'main.js');
const bundle = join(root, 'dist', 'bundle', 'lading.mjs');
if (!existsSync(main)) {
  process.stderr.write(`lading: ${main} is missing; run \`npm ci\` or \`npm run build\` in ${root}\n`);
  process.exit(70);
}
const fresh = (() => {
  try {
    return statSync(bundle).mtimeMs >= statSync(main).mtimeMs;
  } catch {
    return false;
  }
})();
const { run } = await import(fresh ? bundle : main);
process.exitCode = await run(process.argv.slice(2));
