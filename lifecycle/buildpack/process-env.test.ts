import { describe, expect, it } from 'vitest';
import { filterHostEnv, npmConfigFiles, targetEnv, withPlatformEnv } from './process-env.js';

describe('buildpack.md: Security Considerations — the filtered host env', () => {
  const host = {
    HOME: '/home/dev',
    HOSTNAME: 'box',
    PATH: '/usr/bin',
    LD_LIBRARY_PATH: '/opt/lib',
    https_proxy: 'http://proxy:3128',
    NO_PROXY: 'localhost',
    NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem',
    SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
    SSL_CERT_DIR: '/etc/ssl/certs',
    npm_config_registry: 'https://npm.example/',
    NPM_CONFIG_CAFILE: '/etc/ssl/corp.pem',
    CNB_REGISTRY_AUTH: '{"registry.example":"Basic eDp5"}',
    DOCKER_CONFIG: '/home/dev/.docker',
    REGISTRY_AUTH_FILE: '/run/auth.json',
    AWS_SECRET_ACCESS_KEY: 'nope',
    TERM: 'xterm',
    UNSET: undefined,
  };

  it('keeps HOME, HOSTNAME, proxies, path variables, CA settings and npm configuration; nothing else', () => {
    expect(filterHostEnv(host, { execPath: '/usr/bin/node' })).toEqual({
      HOME: '/home/dev',
      HOSTNAME: 'box',
      PATH: '/usr/bin',
      LD_LIBRARY_PATH: '/opt/lib',
      https_proxy: 'http://proxy:3128',
      NO_PROXY: 'localhost',
      NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem',
      SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
      SSL_CERT_DIR: '/etc/ssl/certs',
      npm_config_registry: 'https://npm.example/',
      NPM_CONFIG_CAFILE: '/etc/ssl/corp.pem',
      NPM_CONFIG_USERCONFIG: '/home/dev/.npmrc',
      NPM_CONFIG_GLOBALCONFIG: '/usr/etc/npmrc',
    });
  });

  it('never passes registry credentials', () => {
    const env = filterHostEnv(host);
    for (const k of ['CNB_REGISTRY_AUTH', 'DOCKER_CONFIG', 'REGISTRY_AUTH_FILE', 'AWS_SECRET_ACCESS_KEY']) expect(env).not.toHaveProperty(k);
  });

  it("keeps the user's pip configuration (index, find-links, TLS, config file locations) and no other PIP_ setting", () => {
    const pip = {
      PIP_INDEX_URL: 'https://user:token@index.example/simple',
      PIP_EXTRA_INDEX_URL: 'https://extra.example/simple',
      PIP_FIND_LINKS: '/srv/wheels',
      PIP_NO_INDEX: '1',
      PIP_TRUSTED_HOST: 'index.example',
      PIP_CERT: '/etc/ssl/corp.pem',
      PIP_CONFIG_FILE: '/etc/corp/pip.conf',
      XDG_CONFIG_HOME: '/home/dev/.cfg',
      PIP_REQUIRE_VIRTUALENV: 'true',
    };
    const env = filterHostEnv({ HOME: '/home/dev', ...pip });
    const { PIP_REQUIRE_VIRTUALENV: _dropped, ...kept } = pip;
    expect(env).toMatchObject(kept);
    expect(env).not.toHaveProperty('PIP_REQUIRE_VIRTUALENV');
  });

  it('locates the npmrc files the way npm does', () => {
    expect(npmConfigFiles({ HOME: '/h' }, '/opt/node/bin/node')).toEqual({ userconfig: '/h/.npmrc', globalconfig: '/opt/node/etc/npmrc' });
    expect(npmConfigFiles({ HOME: '/h', npm_config_prefix: '/p' })).toEqual({ userconfig: '/h/.npmrc', globalconfig: '/p/etc/npmrc' });
    expect(npmConfigFiles({ NPM_CONFIG_USERCONFIG: '/u', npm_config_globalconfig: '/g' })).toEqual({ userconfig: '/u', globalconfig: '/g' });
  });

  it('puts the node running lading on PATH when asked, once', () => {
    expect(filterHostEnv({ PATH: '/usr/bin' }, { execPath: '/opt/node/bin/node', nodeOnPath: true })['PATH']).toBe('/opt/node/bin:/usr/bin');
    expect(filterHostEnv({ PATH: '/usr/bin' }, { execPath: '/usr/bin/node', nodeOnPath: true })['PATH']).toBe('/usr/bin');
    expect(filterHostEnv({}, { execPath: '/opt/node/bin/node', nodeOnPath: true })['PATH']).toBe('/opt/node/bin');
  });

  it('keeps a single spelling of the npmrc locations', () => {
    const env = filterHostEnv({ HOME: '/h', npm_config_userconfig: '/custom/npmrc' });
    expect(env).toEqual({ HOME: '/h', NPM_CONFIG_USERCONFIG: '/custom/npmrc', NPM_CONFIG_GLOBALCONFIG: '/usr/etc/npmrc' });
  });
});

describe('buildpack.md: Targets — CNB_TARGET_* variables', () => {
  it('sets the known target fields', () => {
    expect(targetEnv({ os: 'linux', arch: 'arm64', variant: 'v8', distro: { name: 'debian', version: '12' } })).toEqual({
      CNB_TARGET_OS: 'linux',
      CNB_TARGET_ARCH: 'arm64',
      CNB_TARGET_ARCH_VARIANT: 'v8',
      CNB_TARGET_DISTRO_NAME: 'debian',
      CNB_TARGET_DISTRO_VERSION: '12',
    });
    expect(targetEnv({ os: 'linux', arch: 'amd64' })).toEqual({ CNB_TARGET_OS: 'linux', CNB_TARGET_ARCH: 'amd64' });
  });
});

describe('buildpack.md: Provided by the Platform — user and operator variables', () => {
  const env = { PATH: '/layers/a/bin:/usr/bin', JAVA_OPTS: '-Xss1m', KEEP: 'k' };

  it('user values are prepended to POSIX path variables and override the rest', () => {
    expect(withPlatformEnv(env, { platformEnv: { PATH: '/user/bin', JAVA_OPTS: '-Xmx1g', CPATH: '/inc' }, clearEnv: false })).toEqual({
      PATH: '/user/bin:/layers/a/bin:/usr/bin',
      JAVA_OPTS: '-Xmx1g',
      KEEP: 'k',
      CPATH: '/inc',
    });
  });

  it('clear-env: user values are not set', () => {
    expect(withPlatformEnv(env, { platformEnv: { JAVA_OPTS: '-Xmx1g' }, clearEnv: true })).toEqual(env);
  });

  it('operator values follow the modification rules, after the user and buildpack values', () => {
    const out = withPlatformEnv(env, {
      platformEnv: { BP_X: 'user' },
      clearEnv: true,
      buildConfigEnv: [
        { name: 'BP_X', action: 'default', value: 'operator', file: 'BP_X' },
        { name: 'JAVA_OPTS', action: 'append', value: ' -Dop=1', file: 'JAVA_OPTS.append' },
      ],
    });
    expect(out).toEqual({ ...env, BP_X: 'operator', JAVA_OPTS: '-Xss1m -Dop=1' });
  });
});
