// Shared by the benchmark scripts: loading the compiled library, medians, free ports, a local registry.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

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
