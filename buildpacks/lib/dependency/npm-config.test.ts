import { chmod, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNpmConfig, parseNpmrc } from './npm-config.js';
import { DOWNLOAD_STORE_ENV } from './download-store.js';

const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

async function files(spec: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lading-npmrc-'));
  tmp.push(dir);
  for (const [name, text] of Object.entries(spec)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

describe('npm configuration, read as npm reads it', () => {
  it('parses npmrc lines with comments, quotes and ${VAR} expansion', () => {
    const m = parseNpmrc('; comment\n# other\nregistry = "http://r.test/"\n//r.test/:_authToken=${TOKEN}\nopt=${MISSING?}\nlit=\\${X}\n', { TOKEN: 't0k' }, 'x');
    expect(Object.fromEntries(m)).toEqual({ registry: 'http://r.test/', '//r.test/:_authToken': 't0k', opt: '', lit: '${X}' });
    expect(() => parseNpmrc('a=${NOPE}', {}, '/home/u/.npmrc')).toThrow('/home/u/.npmrc: ${NOPE} is not set');
  });

  it('layers global < user < project < npm_config_* and finds files from NPM_CONFIG_*CONFIG', async () => {
    const d = await files({
      'global/npmrc': 'registry=http://global.test/\nstrict-ssl=false\ncafile=/nowhere\n',
      'user/.npmrc': 'registry=http://user.test/\n@corp:registry=http://corp.test/npm/\n',
      'app/.npmrc': 'cafile=null\n',
    });
    const env = { NPM_CONFIG_GLOBALCONFIG: join(d, 'global/npmrc'), NPM_CONFIG_USERCONFIG: join(d, 'user/.npmrc'), HOME: d };
    const c = await loadNpmConfig({ env, projectDir: join(d, 'app'), askNpm: false });
    expect(c.files).toEqual([join(d, 'global/npmrc'), join(d, 'user/.npmrc'), join(d, 'app/.npmrc')]);
    expect(c.registryFor('left-pad')).toBe('http://user.test/');
    expect(c.registryFor('@corp/lib')).toBe('http://corp.test/npm/');
    expect(c.strictSsl).toBe(false);
    expect(await c.certificateAuthorities()).toBeUndefined();
    const over = await loadNpmConfig({ env: { ...env, npm_config_registry: 'http://env.test', NPM_CONFIG_STRICT_SSL: 'true' }, askNpm: false });
    expect(over.registryFor('x')).toBe('http://env.test/');
    expect(over.strictSsl).toBe(true);
  });

  it('reads cafile and says which file is unreadable', async () => {
    const d = await files({ 'ca.pem': '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n', '.npmrc': 'registry=http://r.test/\n' });
    const ok = await loadNpmConfig({ env: { HOME: d, npm_config_cafile: join(d, 'ca.pem'), NPM_CONFIG_GLOBALCONFIG: join(d, 'none') }, askNpm: false });
    expect((await ok.certificateAuthorities())?.[0]).toContain('BEGIN CERTIFICATE');
    const bad = await loadNpmConfig({ env: { HOME: d, npm_config_cafile: join(d, 'missing.pem'), NPM_CONFIG_GLOBALCONFIG: join(d, 'none') }, askNpm: false });
    await expect(bad.certificateAuthorities()).rejects.toThrow(`npm cafile ${join(d, 'missing.pem')} cannot be read`);
  });

  it('picks credentials by the longest //host/path/ prefix of the URL (nerf darts)', async () => {
    const d = await files({
      '.npmrc': [
        'registry=http://r.test/npm/',
        '//r.test/:_authToken=host-wide',
        '//r.test/npm/:_authToken=registry-token',
        '//files.test/:username=bob',
        `//files.test/:_password=${Buffer.from('secret').toString('base64')}`,
        '_authToken=legacy',
      ].join('\n'),
    });
    const c = await loadNpmConfig({ env: { HOME: d, NPM_CONFIG_GLOBALCONFIG: join(d, 'none') }, askNpm: false });
    expect(c.authorizationFor('http://r.test/npm/left-pad')).toBe('Bearer registry-token');
    expect(c.authorizationFor('http://r.test/other/x.tgz')).toBe('Bearer host-wide');
    expect(c.authorizationFor('http://files.test/a/b.tgz')).toBe(`Basic ${Buffer.from('bob:secret').toString('base64')}`);
    expect(c.authorizationFor('http://elsewhere.test/x.tgz')).toBeUndefined();
  });

  it('without any registry setting, says so (and where it looked)', async () => {
    const d = await files({ '.npmrc': 'fund=false\n' });
    const c = await loadNpmConfig({ env: { HOME: d, NPM_CONFIG_GLOBALCONFIG: join(d, 'none') }, askNpm: false });
    expect(() => c.registryFor('x')).toThrow(`no npm registry configured (read: ${join(d, '.npmrc')})`);
  });

  it('keeps npm\'s default registry in the memo: asked again only for another npm, an expired answer, or no memo', async () => {
    const d = await files({ 'calls': '' });
    const bin = join(d, 'bin');
    await mkdir(bin);
    // A stand-in npm that counts its calls and answers `config get registry`.
    await writeFile(join(bin, 'npm'), `#!/bin/sh\necho x >> ${join(d, 'calls')}\necho http://default.test/\n`);
    await chmod(join(bin, 'npm'), 0o755);
    const env = { HOME: d, NPM_CONFIG_GLOBALCONFIG: join(d, 'none'), PATH: `${bin}:/usr/bin:/bin` };
    const calls = async () => (await readFile(join(d, 'calls'), 'utf8')).split('\n').filter(Boolean).length;
    const memo = {};
    let clock = 1000;
    const load = () => loadNpmConfig({ env, memo, now: () => clock, maxAge: 60 });
    expect((await load()).registryFor('x')).toBe('http://default.test/');
    expect((await load()).registryFor('x')).toBe('http://default.test/');
    expect(await calls()).toBe(1);
    clock += 61;
    await load();
    expect(await calls()).toBe(2);
    // Another npm (here: the same file, modified) is asked afresh.
    await utimes(join(bin, 'npm'), new Date(5_000_000), new Date(5_000_000));
    await load();
    expect(await calls()).toBe(3);
    await loadNpmConfig({ env, memo, now: () => clock, maxAge: 0 });
    await loadNpmConfig({ env });
    expect(await calls()).toBe(5);
  });

  it('shares npm\'s default registry between builds on the machine (the store\'s answers/), per npm, for maxAge', async () => {
    const d = await files({ calls: '' });
    const bin = join(d, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'npm'), `#!/bin/sh\necho x >> ${join(d, 'calls')}\necho http://default.test/\n`);
    await chmod(join(bin, 'npm'), 0o755);
    const env = { HOME: d, NPM_CONFIG_GLOBALCONFIG: join(d, 'none'), PATH: `${bin}:/usr/bin:/bin`, [DOWNLOAD_STORE_ENV]: join(d, 'store') };
    const calls = async () => (await readFile(join(d, 'calls'), 'utf8')).split('\n').filter(Boolean).length;
    let clock = 1000;
    const load = (memo: Record<string, unknown>, over: Partial<typeof env> = {}, maxAge = 60) => loadNpmConfig({ env: { ...env, ...over }, memo, now: () => clock, maxAge });

    // Two builds with empty cache layers: npm is asked once, and the second build keeps the answer in its layer.
    expect((await load({})).registryFor('x')).toBe('http://default.test/');
    const second: Record<string, unknown> = {};
    clock += 59;
    expect((await load(second)).registryFor('x')).toBe('http://default.test/');
    expect(await calls()).toBe(1);
    expect(second['npm-default-registry']).toMatchObject({ registry: 'http://default.test/', at: 1000 });
    // Expired at both levels: npm is asked again.
    clock += 2;
    await load({});
    expect(await calls()).toBe(2);
    // Another npm does not take this npm's answer.
    await utimes(join(bin, 'npm'), new Date(5_000_000), new Date(5_000_000));
    await load({});
    expect(await calls()).toBe(3);
    // maxAge 0: neither level is used (and nothing is written); without a store: nothing shared.
    await rm(join(d, 'store'), { recursive: true });
    await load({}, {}, 0);
    await load({}, {}, 0);
    expect(await readdir(d)).not.toContain('store');
    await load({}, { [DOWNLOAD_STORE_ENV]: '' });
    await load({}, { [DOWNLOAD_STORE_ENV]: '' });
    expect(await calls()).toBe(7);
    expect(await readdir(d)).not.toContain('store');
    // A store that cannot be written (a file is in the way): npm's answer is used, nothing fails.
    await writeFile(join(d, 'blocked'), 'a file');
    const memo: Record<string, unknown> = {};
    expect((await load(memo, { [DOWNLOAD_STORE_ENV]: join(d, 'blocked') })).registryFor('x')).toBe('http://default.test/');
    expect(memo['npm-default-registry']).toMatchObject({ registry: 'http://default.test/' });
  });
});
