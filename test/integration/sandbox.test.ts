import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { requireTools } from '../support/tools.js';
import { nodeRunImage } from './node-stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SANDBOX_BUILDER = join(ROOT, 'test/fixtures/builders/sandbox/builder.toml');
const NODE_BUILDER = join(ROOT, 'test/fixtures/builders/sandbox-node/builder.toml');
const SECRET = 'lading-test-secret';

/** `HOSTILE key=value` lines the hostile buildpack printed (its build output goes to lading's stderr). */
function saw(stderr: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stderr.matchAll(/^HOSTILE ([\w.-]+)=(.*)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

/**
 * Issue 10 acceptance: a hostile bash buildpack in an untrusted builder image runs sandboxed in the build
 * image (bwrap, user namespaces, no root inside): it cannot read a host file outside the mounts, write outside
 * its layers and the app dir, see registry credentials, or (with --network none) reach 127.0.0.1; the build
 * itself succeeds. A trusted builder runs the same buildpack in host mode, where it does see the host file.
 */
describe.skipIf(!requireTools('bwrap', 'apt-get', 'dpkg-deb'))('sandboxed builds (issue 10)', () => {
  let home: string;
  let builder: string;
  let server: Server;
  let port = 0;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const hostDir = () => temp('lading-sandbox-host-');
  const run = (args: string[]) =>
    lading(args, { LADING_HOME: home, CNB_REGISTRY_AUTH: JSON.stringify({ '127.0.0.1:1': `Basic ${SECRET}` }), HOSTILE_SECRET: SECRET });
  const build = async (extra: string[], hostFile: string) => {
    const app = temp('lading-sandbox-app-');
    writeFileSync(join(app, 'index.txt'), 'hello');
    return run(['build', `oci:${temp('lading-sandbox-out-')}:app`, '-p', app, '-B', builder, '-e', `HOSTILE_HOST_FILE=${hostFile}`, '-e', `HOSTILE_PORT=${port}`, ...extra]);
  };

  beforeAll(async () => {
    home = temp('lading-sandbox-home-');
    const layout = (await nodeRunImage()).replace(/^oci:/, '').replace(/:run-base$/, '');
    for (const image of ['build', 'run-base']) {
      const r = await lading(['copy', `oci:${layout}:${image}`, `lading-test/bookworm/${image}:latest`], { LADING_HOME: home });
      expect(r.code, r.stderr).toBe(0);
    }
    builder = `oci:${temp('lading-sandbox-builder-')}:builder`;
    const created = await lading(['builder', 'create', builder, '--config', SANDBOX_BUILDER], { LADING_HOME: home });
    expect(created.code, created.stderr).toBe(0);
    // The buildpack connects and hangs up without reading: a reset is expected, not a failure.
    server = createServer((s) => {
      s.on('error', () => undefined);
      s.end('hi\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  }, 600_000);
  afterAll(() => {
    server?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('an untrusted builder runs sandboxed: every escape fails, the build succeeds, the network is on by default', async () => {
    const host = hostDir();
    const file = join(host, 'host-secret.txt');
    writeFileSync(file, SECRET);
    const r = await build([], file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Sandbox (untrusted builder)');
    const s = saw(r.stderr);
    expect(s).toMatchObject({
      'read-host': 'no',
      write_etc_hostile: 'no',
      write_hostile: 'no',
      write_cnb_hostile: 'no',
      'write_cnb_buildpacks_fixtures_hostile_0.6.6_hostile': 'no',
      write_usr_bin_hostile: 'no',
      'write-own-layers': 'yes',
      'write-app': 'yes',
      'env-CNB_REGISTRY_AUTH': 'no',
      'env-DOCKER_CONFIG': 'no',
      'env-REGISTRY_AUTH_FILE': 'no',
      'env-DOCKER_AUTH_CONFIG': 'no',
      'env-HOSTILE_SECRET': 'no',
      'env-secret-value': 'no',
      'net-loopback': 'yes',
      uid: '1000',
      gid: '1000',
      mounts: 'yes',
    });
    // It ran in the build image's filesystem (Debian 12), not the host's.
    expect(s['os-release']).toMatch(/^debian-12/);
    expect(existsSync(join(host, 'hostile-write'))).toBe(false);
  }, 300_000);

  it('--network none: 127.0.0.1 is unreachable from the buildpack; everything else as before', async () => {
    const host = hostDir();
    const file = join(host, 'host-secret.txt');
    writeFileSync(file, SECRET);
    const r = await build(['--network', 'none'], file);
    expect(r.code, r.stderr).toBe(0);
    const s = saw(r.stderr);
    expect(s['net-loopback']).toBe('no');
    expect(s['read-host']).toBe('no');
    expect(s['env-CNB_REGISTRY_AUTH']).toBe('no');
    expect(existsSync(join(host, 'hostile-write'))).toBe(false);
  }, 300_000);

  it('a trusted builder (--trust-builder) runs host mode, where the same buildpack does see the host file', async () => {
    const host = hostDir();
    const file = join(host, 'host-secret.txt');
    writeFileSync(file, SECRET);
    const r = await build(['--trust-builder'], file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('Sandbox');
    const s = saw(r.stderr);
    expect(s['read-host']).toBe('yes');
    // Credentials stay out in host mode too.
    expect(s['env-CNB_REGISTRY_AUTH']).toBe('no');
    rmSync(join(host, 'hostile-write'), { force: true });
  }, 300_000);

  it('a trusted builder listed in $LADING_HOME/config.toml is trusted; --isolation sandbox still sandboxes it', async () => {
    writeFileSync(join(home, 'config.toml'), `[[trusted-builders]]\nname = "${builder}"\n`);
    try {
      const host = hostDir();
      const file = join(host, 'host-secret.txt');
      writeFileSync(file, SECRET);
      const listed = await build([], file);
      expect(listed.code, listed.stderr).toBe(0);
      expect(saw(listed.stderr)['read-host']).toBe('yes');
      const forced = await build(['--isolation', 'sandbox'], file);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stderr).toContain('Sandbox (--isolation sandbox)');
      expect(saw(forced.stderr)['read-host']).toBe('no');
    } finally {
      rmSync(join(home, 'config.toml'), { force: true });
    }
  }, 300_000);

  it('a buildpack written in JavaScript runs sandboxed from the builder\'s node layer (the build image has no node and no libstdc++)', async () => {
    const nodeBuilder = `oci:${temp('lading-sandbox-node-builder-')}:builder`;
    const created = await lading(['builder', 'create', nodeBuilder, '--config', NODE_BUILDER, '--json'], { LADING_HOME: home });
    expect(created.code, created.stderr).toBe(0);
    expect(created.json<{ node: boolean }>().node).toBe(true);
    const app = temp('lading-sandbox-node-app-');
    writeFileSync(join(app, 'greeting.txt'), 'Hello\n');
    const r = await run(['build', `oci:${temp('lading-sandbox-node-out-')}:app`, '-p', app, '-B', nodeBuilder, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Sandbox (untrusted builder)');
    expect(r.stderr).toContain('SDK greeter 1.2.0');
    expect(r.json<{ layers: { name: string }[] }>().layers.map((l) => l.name)).toContain('fixtures/sdk-greeter:greeter');
  }, 300_000);

  it('--isolation host with an untrusted builder, and --network none in host mode, are usage errors (exit 2)', async () => {
    const file = join(hostDir(), 'f');
    writeFileSync(file, '');
    const host = await build(['--isolation', 'host'], file);
    expect(host.code).toBe(2);
    expect(host.stderr).toMatch(/is not trusted, so its buildpacks run sandboxed; pass --trust-builder/);
    const net = await build(['--trust-builder', '--network', 'none'], file);
    expect(net.code).toBe(2);
    expect(net.stderr).toMatch(/--network none needs a sandboxed build/);
  }, 120_000);
});
