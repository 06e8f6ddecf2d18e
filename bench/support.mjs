// Shared by the benchmark scripts: loading the compiled library, medians, free ports, a local registry.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The repository root and its `bin/lading`. */
export const ROOT = new URL('..', import.meta.url).pathname;
export const LADING = join(ROOT, 'bin', 'lading');
/** Shared with the tests: .debs are content-addressed and re-verified. */
export const DEB_CACHE = join(tmpdir(), 'lading-test-debs');

/** Whether a command is on PATH. */
export const has = (tool) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Exits (2) saying to run `npm run build` unless dist/ and the named buildpacks' bundles exist. */
export function requireBuilt(...buildpacks) {
  const missing = [join(ROOT, 'dist', 'lifecycle', 'cli', 'main.js'), ...buildpacks.map((b) => join(ROOT, 'buildpacks', b, 'bin', 'main.mjs'))].filter((f) => !existsSync(f));
  if (missing.length > 0) {
    console.error(`${missing.join(', ')} missing: run \`npm run build\` first`);
    process.exit(2);
  }
}

/** The run count from argv[index] (default and minimum 5: medians of fewer runs say little). */
export const runsArg = (index = 2) => Math.max(5, Number(process.argv[index] ?? 5));

/** Imports a module of the compiled library (dist/), or exits saying to run `npm run build`. */
export const loadDist = (path) => import(new URL(`../dist/${path}`, import.meta.url).href).catch((err) => {
  console.error(`cannot load dist/${path}: run \`npm run build\` first (${err.message})`);
  process.exit(2);
});

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

/** Debian's docker-registry on a free loopback port with its own storage under `dir`; `stop()` kills and removes it. */
export async function startRegistry(dir) {
  const port = await freePort();
  const config = join(dir, 'registry.yml');
  writeFileSync(config, `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }\nhttp: { addr: 127.0.0.1:${port}, secret: bench }\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/v2/`)).ok) break; } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, stop: () => { child.kill('SIGKILL'); rmSync(join(dir, 'data'), { recursive: true, force: true }); } };
}
