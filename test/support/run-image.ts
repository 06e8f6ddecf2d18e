import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';

const exec = promisify(execFile);

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunningContainer {
  id: string;
  bundle: string;
  /** The OCI runtime config umoci produced (after our edits): process.user, env, cwd, args. */
  config: { process: { user: { uid: number; gid: number }; env: string[]; cwd: string; args: string[] } };
  port: number;
  /** GETs a path from the container, retrying until it answers (bounded). */
  fetch(path?: string): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Proves an image runs (testing.md): `umoci unpack` an OCI layout, share the host's loopback, set PORT, then
 * `runc run -d`. Requires root (as CI runs). The caller stops it; `stop` also removes the bundle.
 */
export async function runImage(layout: string, tag: string, options: { env?: Record<string, string>; args?: string[] } = {}): Promise<RunningContainer> {
  const dir = mkdtempSync(join(tmpdir(), 'lading-run-'));
  const bundle = join(dir, 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], { stdio: 'pipe' });
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  const port = await freePort();
  config.process.terminal = false;
  config.process.env = [...(config.process.env ?? []), `PORT=${port}`, ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  if (options.args) config.process.args = options.args;
  config.linux.namespaces = config.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const id = `lading-test-${process.pid}-${port}`;
  const logFile = join(dir, 'out.log');
  execFileSync('sh', ['-c', `runc run -d --pid-file "${join(dir, 'pid')}" --bundle "${bundle}" ${id} >"${logFile}" 2>&1 </dev/null`], { stdio: 'pipe', timeout: 30_000 });
  const logs = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    id,
    bundle,
    config,
    port,
    logs,
    async fetch(path = '/') {
      let last: unknown;
      for (let i = 0; i < 100; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
          return await res.text();
        } catch (err) {
          last = err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`container ${id} did not answer on port ${port}: ${String(last)}\n${logs()}`);
    },
    async stop() {
      await exec('runc', ['kill', id, 'KILL']).catch(() => {});
      await exec('runc', ['delete', '-f', id]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
