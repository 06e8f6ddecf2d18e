import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempTrees } from '../../test/support/temp-tree.js';
import { sandboxEnv, sandboxIsolation } from './sandbox.js';

const trees = tempTrees('lading-sandbox-unit-');
afterEach(() => trees.cleanup());

describe('sandboxIsolation (bwrap in the build image)', () => {
  it('mounts the root read-only, the build dirs at image paths, unshares everything, runs as the stack user', async () => {
    const rootfs = await trees.create({ 'etc/os-release': 'x' });
    const build = await trees.create({ 'app/a': '', 'layers/l': '', 'platform/env/X': '', 'bp/buildpack.toml': '', 'tmp/plans/p1/keep': '' });
    const iso = sandboxIsolation({ tool: '/usr/bin/bwrap', rootfs, uid: 1000, gid: 1001, imageEnv: { PATH: '/usr/bin:/bin' } });
    const dirs = { appDir: join(build, 'app'), layersDir: join(build, 'layers'), platformDir: join(build, 'platform'), buildpack: { dir: join(build, 'bp'), id: 'me/bp', version: '1.0.0' } };
    const seen = iso.paths(dirs);
    expect(seen).toEqual({ appDir: '/workspace', layersDir: '/layers', platformDir: '/platform', buildpackDir: '/cnb/buildpacks/me_bp/1.0.0' });
    const plan = join(build, 'tmp/plans/p1/plan.toml');
    const inv = iso.wrap({ file: '/cnb/buildpacks/me_bp/1.0.0/bin/build', args: ['/layers/me_bp', '/platform', plan], cwd: '/workspace', env: { PATH: '/layers/me_bp/dep/bin:/usr/local/bin:/host/node/bin', CNB_REGISTRY_AUTH: 'secret', NODE_EXTRA_CA_CERTS: '/host/ca.pem', CNB_BP_PLAN_PATH: plan } }, dirs);
    expect(inv.file).toBe('/usr/bin/bwrap');
    const a = inv.args.join(' ');
    expect(a).toContain(`--ro-bind ${rootfs} / --proc /proc --dev /dev --tmpfs /tmp`);
    expect(a).toContain(`--bind ${dirs.appDir} /workspace --bind ${dirs.layersDir} /layers --ro-bind ${dirs.platformDir} /platform --ro-bind ${dirs.buildpack.dir} /cnb/buildpacks/me_bp/1.0.0`);
    expect(a).toContain(`--bind ${join(build, 'tmp/plans/p1')} ${join(build, 'tmp/plans/p1')}`);
    expect(a).toContain('--unshare-all --share-net --uid 1000 --gid 1001');
    expect(a).toMatch(/--chdir \/workspace --die-with-parent --new-session -- \/cnb\/buildpacks\/me_bp\/1\.0\.0\/bin\/build \/layers\/me_bp \/platform /);
    // Mount points made in the unpacked root, which is read-only inside.
    expect(existsSync(join(rootfs, 'cnb/buildpacks/me_bp/1.0.0'))).toBe(true);
    expect(inv.env).toEqual({ PATH: '/layers/me_bp/dep/bin:/usr/bin:/bin', CNB_BP_PLAN_PATH: plan, HOME: '/home/cnb' });
  });

  it('network none: no --share-net', async () => {
    const rootfs = await trees.create({});
    const app = await trees.create({});
    const inv = sandboxIsolation({ tool: 'bwrap', rootfs, uid: 1000, gid: 1000, network: 'none' }).wrap({ file: '/bin/true', args: [], cwd: '/workspace', env: {} }, { appDir: app });
    expect(inv.args).toContain('--unshare-all');
    expect(inv.args).not.toContain('--share-net');
  });
});

describe('sandboxEnv', () => {
  it('keeps the build\'s own path entries, then extra dirs and the image PATH; drops secrets and host-file settings', () => {
    const env = sandboxEnv(
      { PATH: '/layers/a/bin:/usr/bin:/workspace/node_modules/.bin', LD_LIBRARY_PATH: '/host/lib:/layers/a/lib', DOCKER_CONFIG: '/root/.docker', NPM_CONFIG_USERCONFIG: '/root/.npmrc', HTTPS_PROXY: 'http://proxy:3128', CNB_TARGET_OS: 'linux' },
      { imageEnv: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/build', CNB_USER_ID: '1000' }, extraPath: ['/cnb/node/bin'], extraLibraryPath: ['/cnb/node/lib'] },
    );
    expect(env).toEqual({
      PATH: '/layers/a/bin:/workspace/node_modules/.bin:/cnb/node/bin:/usr/local/bin:/usr/bin:/bin',
      LD_LIBRARY_PATH: '/layers/a/lib:/cnb/node/lib',
      HTTPS_PROXY: 'http://proxy:3128',
      CNB_TARGET_OS: 'linux',
      HOME: '/home/build',
      CNB_USER_ID: '1000',
    });
  });
});
