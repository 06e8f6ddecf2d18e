#!/usr/bin/env node
// The cost of sandboxed builds (issue 10): `lading build -B <builder image>` of the same app with the same
// builder, host mode (--trust-builder) against the sandbox (--isolation sandbox: bwrap in the builder's
// filesystem as the stack user), cold (fresh cache and LADING_HOME: the sandbox unpacks the builder's
// filesystem once) and warm (no-op rebuild with the cache dir), medians of ≥5 runs, in the same run.
// Goal: the sandbox adds ≤ 20% to a warm rebuild.
// Builder: the sample builder's bash `hello` buildpack (test/fixtures/builders/sample) over the bookworm stack's
// build and run-base images, built once into an OCI layout under the OS temp dir with `lading stack build`
// (as the integration tests do). App: test/fixtures/apps/hello. Needs `npm run build` and bwrap.
// Usage: node bench/builder.mjs [runs=5]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './support.mjs';

const root = new URL('..', import.meta.url).pathname;
const lading = join(root, 'bin', 'lading');
const runs = Math.max(5, Number(process.argv[2] ?? 5));

/** The bookworm stack as `oci:<layout>` (build, run-base, run-static), shared with test/integration/node-stack.ts. */
function stackLayout() {
  const stack = join(root, 'stacks/bookworm');
  const lock = createHash('sha256').update(readFileSync(join(stack, 'stack.lock'))).digest('hex').slice(0, 16);
  const layout = join(tmpdir(), `lading-node-stack-${lock}`);
  if (!existsSync(join(layout, 'index.json'))) {
    const work = mkdtempSync(join(tmpdir(), 'lading-bench-stack-'));
    try {
      console.error('building the bookworm stack once (lading stack build) ...');
      execFileSync(lading, ['stack', 'build', stack, '--output', `oci:${join(work, 'layout')}`, '--deb-cache', join(tmpdir(), 'lading-test-debs')], { env: { ...process.env, LADING_HOME: join(work, 'home') }, stdio: ['ignore', 'ignore', 'inherit'] });
      renameSync(join(work, 'layout'), layout);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return layout;
}

const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-builder-'));
try {
  const layout = stackLayout();
  writeFileSync(join(tmp, 'builder.toml'), [
    `[[buildpacks]]\nuri = "${join(root, 'test/fixtures/builders/sample/buildpacks/hello')}"`,
    '[[order]]\n[[order.group]]\nid = "sample/hello"',
    `[build]\nimage = "oci:${layout}:build"`,
    `[[run.images]]\nimage = "oci:${layout}:run-base"`,
  ].join('\n\n'));
  const builder = `oci:${join(tmp, 'builder')}:b`;
  execFileSync(lading, ['builder', 'create', builder, '--config', join(tmp, 'builder.toml')], { env: { ...process.env, LADING_HOME: join(tmp, 'home-create') }, stdio: ['ignore', 'ignore', 'inherit'] });
  const app = join(tmp, 'app');
  cpSync(join(root, 'test/fixtures/apps/hello'), app, { recursive: true });

  let n = 0;
  const build = (mode, home, cache) => {
    const start = process.hrtime.bigint();
    execFileSync(lading, [
      'build', `oci:${join(tmp, `out-${mode}`)}:app`, '-p', app, '-B', builder, '--cache-dir', cache, '--sbom', 'none',
      ...(mode === 'host' ? ['--trust-builder'] : ['--isolation', 'sandbox']), '--json',
    ], { env: { ...process.env, LADING_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    n++;
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  const result = {};
  for (const mode of ['host', 'sandbox']) result[mode] = { cold: [], warm: [] };
  // Interleaved, so both modes see the same machine load.
  for (let r = 0; r < runs; r++) {
    for (const mode of ['host', 'sandbox']) {
      const home = join(tmp, `home-${mode}-${r}`);
      const cache = join(tmp, `cache-${mode}-${r}`);
      result[mode].cold.push(build(mode, home, cache));
      result[mode].warm.push(build(mode, home, cache));
    }
  }
  const row = (label, xs) => `${label.padEnd(22)} ${median(xs).toFixed(3).padStart(7)} s  (min ${Math.min(...xs).toFixed(3)} – max ${Math.max(...xs).toFixed(3)})`;
  console.log(`lading build -B <builder image> of test/fixtures/apps/hello into an OCI layout, ${runs} runs each, medians (${n} builds)`);
  for (const kind of ['cold', 'warm']) {
    console.log(row(`host ${kind}`, result.host[kind]));
    console.log(row(`sandbox ${kind}`, result.sandbox[kind]));
    const ratio = median(result.sandbox[kind]) / median(result.host[kind]);
    console.log(`  sandbox / host ${kind}: ${ratio.toFixed(2)}×${kind === 'warm' ? `  goal ≤ 1.20× (${ratio <= 1.2 ? 'met' : 'missed'})` : ''}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
