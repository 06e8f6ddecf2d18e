import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertNoSbomProblems, registrySbomProblems } from './sbom-check.js';
import { startTokenServer, type TokenServer, type TokenServerOptions } from './token-server.js';

/**
 * The real registry (Debian's `docker-registry`, CNCF distribution 2.8) on a free 127.0.0.1 port with
 * its own storage, for integration tests. Callers check `requireTools('docker-registry', 'htpasswd',
 * 'openssl')` first. Always `stop()` it (afterAll); children left behind are killed when the process exits.
 * `stop()` also validates every SBOM the tests pushed (issue 7: CI validates every SBOM the tests produce):
 * each CycloneDX/SPDX referrer and each image's CNB SBOM layer, read from the storage directory; it cleans
 * up first, then rejects naming the image, file and JSON pointer of each problem, failing the test file.
 */
export interface StartRegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  /** Token auth: overrides for the token server (users default to { [username]: password }). */
  token?: Partial<Omit<TokenServerOptions, 'service' | 'issuer'>>;
  /** Validate every SBOM in storage when stopped (default true); false only for tests that push invalid SBOMs on purpose. */
  checkSboms?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of references. */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  dataDir: string;
  /** htpasswd and token auth: the one user that may push and pull. */
  username?: string;
  password?: string;
  tokenServer?: TokenServer;
  /** Token auth: the service and issuer names the registry checks. */
  service?: string;
  /** SIGKILL, leaving storage and config in place (for fault tests). */
  kill(): Promise<void>;
  /** Starts the killed registry again on the same port and storage. */
  restart(): Promise<void>;
  /** Stops everything and removes the temporary directory; rejects afterwards if any stored SBOM is invalid. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function ping(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(`${url}/v2/`, { method: 'GET', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? 'none';
  const dir = await mkdtemp(join(tmpdir(), 'lading-registry-'));
  const dataDir = join(dir, 'data');
  let host = `127.0.0.1:${await freePort()}`;
  let url = `http://${host}`;
  const username = auth === 'none' ? undefined : 'lading';
  const password = auth === 'none' ? undefined : `pw-${randomBytes(9).toString('hex')}`;
  const service = 'lading-test-registry';
  let tokenServer: TokenServer | undefined;
  let authYaml = '';
  if (auth === 'htpasswd') {
    const file = join(dir, 'htpasswd');
    execFileSync('htpasswd', ['-B', '-b', '-c', file, username as string, password as string], { stdio: 'ignore' });
    authYaml = `auth:\n  htpasswd:\n    realm: lading-test\n    path: ${file}\n`;
  } else if (auth === 'token') {
    tokenServer = await startTokenServer(dir, {
      service,
      issuer: 'lading-test-issuer',
      users: { [username as string]: password as string },
      ...options.token,
    });
    authYaml = [
      'auth:', '  token:', `    realm: ${tokenServer.url}`, `    service: ${service}`, '    issuer: lading-test-issuer',
      `    rootcertbundle: ${tokenServer.certPath}`, '',
    ].join('\n');
  }
  const configPath = join(dir, 'config.yml');
  const writeConfig = () => writeFile(configPath, [
    'version: 0.1',
    'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${dataDir}`, '  delete:', '    enabled: true',
    'http:', `  addr: ${host}`, '  secret: lading-test-fixed-secret',
    authYaml,
  ].join('\n'));

  let child: ChildProcess | undefined;
  let stderr = '';
  const launch = async (): Promise<void> => {
    stderr = '';
    const c = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    live.add(c);
    c.once('exit', () => live.delete(c));
    c.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString('utf8');
    });
    for (let i = 0; i < 200; i++) {
      if (c.exitCode !== null) throw new Error(`docker-registry exited (${c.exitCode}) while starting: ${stderr.trim()}`);
      const status = await ping(url);
      // Still ours? (another process may hold the port and answer instead)
      if ((status === 200 || status === 401) && c.exitCode === null) return;
      await sleep(50);
    }
    c.kill('SIGKILL');
    throw new Error(`docker-registry did not answer on ${url} within 10 s: ${stderr.trim()}`);
  };
  // The free port may be taken between probing and binding: try a few.
  for (let tries = 1; ; tries++) {
    await writeConfig();
    try {
      await launch();
      break;
    } catch (err) {
      if (tries >= 3 || !/address already in use/i.test(String(err))) {
        await tokenServer?.close();
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      host = `127.0.0.1:${await freePort()}`;
      url = `http://${host}`;
    }
  }

  const kill = async (): Promise<void> => {
    const c = child;
    if (!c) return;
    c.kill('SIGKILL');
    await exited(c);
    child = undefined;
  };
  const registry: TestRegistry = {
    host,
    url,
    dataDir,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      let problems: string[] = [];
      let checkError: unknown;
      const c = child;
      if (c) {
        c.kill('SIGTERM');
        await Promise.race([exited(c), sleep(3000)]);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
        await exited(c);
        child = undefined;
      }
      if (options.checkSboms !== false) {
        try {
          problems = await registrySbomProblems(dataDir, host);
        } catch (err) {
          checkError = err;
        }
      }
      await tokenServer?.close();
      await rm(dir, { recursive: true, force: true });
      if (checkError) throw new Error(`checking the SBOMs in registry ${host} failed: ${String(checkError)}`, { cause: checkError });
      assertNoSbomProblems(problems, `registry ${host}`);
    },
  };
  if (username !== undefined) registry.username = username;
  if (password !== undefined) registry.password = password;
  if (tokenServer) {
    registry.tokenServer = tokenServer;
    registry.service = service;
  }
  return registry;
}
