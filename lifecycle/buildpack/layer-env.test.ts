import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EnvAction } from './env-files.js';
import { buildEnvFor, launchEnvFor, readLayerEnv, type BuildpackLayerEnv, type LayerEnvSource } from './layer-env.js';

type Files = Partial<Record<'env' | 'envBuild' | 'envLaunch', [string, EnvAction, string][]>> & { proc?: Record<string, [string, EnvAction, string][]> };

function layer(bp: string, name: string, dirs: ('bin' | 'lib' | 'include' | 'pkgconfig')[] = [], files: Files = {}): LayerEnvSource {
  const conv = (list: [string, EnvAction, string][] = []) => list.map(([n, action, value]) => ({ name: n, action, value, file: `${bp}/${name}/${n}.${action}` }));
  return {
    name,
    path: `/layers/${bp}/${name}`,
    bin: dirs.includes('bin'),
    lib: dirs.includes('lib'),
    include: dirs.includes('include'),
    pkgconfig: dirs.includes('pkgconfig'),
    execD: false,
    profileD: false,
    env: conv(files.env),
    envBuild: conv(files.envBuild),
    envLaunch: conv(files.envLaunch),
    envLaunchProcess: Object.fromEntries(Object.entries(files.proc ?? {}).map(([p, l]) => [p, conv(l)])),
  };
}
const bp = (buildpackId: string, ...layers: LayerEnvSource[]): BuildpackLayerEnv => ({ buildpackId, layers });

describe('buildpack.md: Layer Paths', () => {
  it('build env: later buildpacks first, one buildpack’s layers ascending, for every path variable', () => {
    const env = buildEnvFor({ PATH: '/usr/bin' }, [
      bp('one', layer('one', 'b', ['bin']), layer('one', 'a', ['bin', 'lib'])),
      bp('two', layer('two', 'z', ['bin', 'include', 'pkgconfig'])),
    ]);
    expect(env).toEqual({
      PATH: '/layers/two/z/bin:/layers/one/a/bin:/layers/one/b/bin:/usr/bin',
      LD_LIBRARY_PATH: '/layers/one/a/lib',
      LIBRARY_PATH: '/layers/one/a/lib',
      CPATH: '/layers/two/z/include',
      PKG_CONFIG_PATH: '/layers/two/z/pkgconfig',
    });
  });

  it('launch env: bin/ → PATH and lib/ → LD_LIBRARY_PATH only', () => {
    const env = launchEnvFor({ PATH: '/usr/bin' }, [bp('one', layer('one', 'a', ['bin', 'lib', 'include', 'pkgconfig']))]);
    expect(env).toEqual({ PATH: '/layers/one/a/bin:/usr/bin', LD_LIBRARY_PATH: '/layers/one/a/lib' });
  });
});

describe('buildpack.md: Environment Variable Modification Rules — ordering across layers and buildpacks', () => {
  it('Append: earlier buildpacks first, layers ascending, env/ before env.build/', () => {
    const env = buildEnvFor({}, [
      bp('one', layer('one', 'b', [], { env: [['V', 'append', 'one-b']] }), layer('one', 'a', [], { envBuild: [['V', 'append', 'one-a-build']], env: [['V', 'append', 'one-a']] })),
      bp('two', layer('two', 'a', [], { env: [['V', 'append', 'two-a'], ['V', 'delim', ':']] })),
    ]);
    expect(env['V']).toBe('one-aone-a-buildone-b:two-a');
  });

  it('Prepend: later buildpacks first, layers descending, env.build/ before env/', () => {
    const env = buildEnvFor({ V: 'base' }, [
      bp('one', layer('one', 'a', [], { env: [['V', 'prepend', 'a-env'], ['V', 'delim', ' ']], envBuild: [['V', 'prepend', 'a-build']] }), layer('one', 'b', [], { env: [['V', 'prepend', 'b'], ['V', 'delim', ' ']] })),
      bp('two', layer('two', 'a', [], { env: [['V', 'prepend', 'two'], ['V', 'delim', ' ']] })),
    ]);
    expect(env['V']).toBe('two b a-build a-env base');
  });

  it('Override: later buildpacks and later layers win; env.launch/<process>/ over env.launch/ over env/', () => {
    expect(buildEnvFor({}, [bp('one', layer('one', 'b', [], { env: [['V', 'override', 'one-b']] }), layer('one', 'a', [], { env: [['V', 'override', 'one-a']] }))])['V']).toBe('one-b');
    const launch = layer('one', 'a', [], { env: [['V', 'override', 'env']], envLaunch: [['V', 'override', 'launch']], proc: { web: [['V', 'override', 'web']] } });
    expect(launchEnvFor({}, [bp('one', launch)], 'web')['V']).toBe('web');
    expect(launchEnvFor({}, [bp('one', launch)], 'worker')['V']).toBe('launch');
    expect(launchEnvFor({}, [bp('one', launch)])['V']).toBe('launch');
  });

  it('Default: earlier buildpacks and earlier layers win; env/ over env.launch/', () => {
    const env = launchEnvFor({}, [
      bp('one', layer('one', 'b', [], { env: [['V', 'default', 'one-b']] }), layer('one', 'a', [], { envLaunch: [['V', 'default', 'one-a-launch']], env: [['V', 'default', 'one-a']] })),
      bp('two', layer('two', 'a', [], { env: [['V', 'default', 'two']] })),
    ]);
    expect(env['V']).toBe('one-a');
    expect(launchEnvFor({ V: 'image' }, [bp('two', layer('two', 'a', [], { env: [['V', 'default', 'two']] }))])['V']).toBe('image');
  });

  it('build env ignores env.launch/, launch env ignores env.build/', () => {
    const l = layer('one', 'a', [], { envBuild: [['B', 'override', '1']], envLaunch: [['L', 'override', '1']] });
    expect(buildEnvFor({}, [bp('one', l)])).toEqual({ B: '1' });
    expect(launchEnvFor({}, [bp('one', l)])).toEqual({ L: '1' });
  });

  it('a PATH.prepend file composes with bin/ of the same layer', () => {
    const env = buildEnvFor({ PATH: '/usr/bin' }, [bp('one', layer('one', 'a', ['bin'], { env: [['PATH', 'prepend', '/opt/tool'], ['PATH', 'delim', ':']] }))]);
    expect(env['PATH']).toBe('/opt/tool:/layers/one/a/bin:/usr/bin');
  });
});

describe('buildpack.md: Provided by the Buildpacks — reading a layer directory', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  it('reads bin/lib presence and env, env.build, env.launch and env.launch/<process> files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-layer-'));
    roots.push(dir);
    for (const d of ['bin', 'lib', 'exec.d', 'env', 'env.build', 'env.launch/web']) await mkdir(join(dir, d), { recursive: true });
    await writeFile(join(dir, 'env', 'NODE_HOME.default'), '/layers/node/node');
    await writeFile(join(dir, 'env.build', 'NODE_ENV'), 'development');
    await writeFile(join(dir, 'env.launch', 'NODE_ENV'), 'production');
    await writeFile(join(dir, 'env.launch', 'web', 'PORT.default'), '8080');
    const src = await readLayerEnv(dir, 'node', '/layers/acme_node/node');
    expect(src).toMatchObject({ name: 'node', path: '/layers/acme_node/node', bin: true, lib: true, include: false, pkgconfig: false, execD: true, profileD: false });
    expect(src.env.map((e) => `${e.name}.${e.action}=${e.value}`)).toEqual(['NODE_HOME.default=/layers/node/node']);
    expect(src.envBuild.map((e) => e.value)).toEqual(['development']);
    expect(src.envLaunch.map((e) => e.value)).toEqual(['production']);
    expect(Object.keys(src.envLaunchProcess)).toEqual(['web']);
    const launch = launchEnvFor({ PATH: '/usr/bin' }, [{ buildpackId: 'acme/node', layers: [src] }], 'web');
    expect(launch).toEqual({
      PATH: '/layers/acme_node/node/bin:/usr/bin',
      LD_LIBRARY_PATH: '/layers/acme_node/node/lib',
      NODE_HOME: '/layers/node/node',
      NODE_ENV: 'production',
      PORT: '8080',
    });
  });
});
