import { describe, expect, it } from 'vitest';
import { effectiveTargets, parseBuildpackDescriptor, targetSatisfies } from './descriptor.js';
import { checkBuildpackApi } from './api-version.js';

const FILE = '/bps/x/buildpack.toml';
const parse = (text: string) => parseBuildpackDescriptor(text, FILE, '/bps/x');
const component = (api = '0.12', extra = '') => `api = "${api}"\n[buildpack]\nid = "acme/node"\nversion = "1.2.3"\n${extra}`;

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected an error');
}

describe('buildpack.md: buildpack.toml (TOML)', () => {
  it('reads a component buildpack with every [buildpack] key', () => {
    const bp = parse(`
api = "0.12"
[buildpack]
id = "acme/node"
version = "1.2.3"
name = "Node"
homepage = "https://example.com"
description = "Node.js runtime"
keywords = ["node", "js"]
clear-env = true
sbom-formats = ["application/vnd.cyclonedx+json", "application/spdx+json;version=2.3"]
[[buildpack.licenses]]
type = "Apache-2.0"
[[buildpack.exec-env]]
name = "production"
[[buildpack.exec-env]]
name = "test"
[metadata]
default-version = "20"
`);
    expect(bp).toMatchObject({
      api: '0.12',
      kind: 'component',
      dir: '/bps/x',
      file: FILE,
      order: [],
      metadata: { 'default-version': '20' },
      info: {
        id: 'acme/node',
        version: '1.2.3',
        name: 'Node',
        homepage: 'https://example.com',
        description: 'Node.js runtime',
        keywords: ['node', 'js'],
        clearEnv: true,
        sbomFormats: ['application/vnd.cyclonedx+json', 'application/spdx+json;version=2.3'],
        licenses: [{ type: 'Apache-2.0' }],
        execEnv: ['production', 'test'],
      },
    });
  });

  it('defaults clear-env to false and lists to empty', () => {
    const bp = parse(component());
    expect(bp.info).toMatchObject({ clearEnv: false, sbomFormats: [], keywords: [], execEnv: [] });
  });

  it('reads a composite buildpack with [[order]] groups', () => {
    const bp = parse(`
api = "0.10"
[buildpack]
id = "acme/family"
version = "0.1.0"
[[order]]
[[order.group]]
id = "acme/a"
version = "1.0.0"
[[order.group]]
id = "acme/b"
version = "2.0.0"
optional = true
exec-env = ["test"]
[[order]]
[[order.group]]
id = "acme/c"
version = "3.0.0"
`);
    expect(bp.kind).toBe('composite');
    expect(bp.order).toEqual([
      [
        { id: 'acme/a', version: '1.0.0', optional: false },
        { id: 'acme/b', version: '2.0.0', optional: true, execEnv: ['test'] },
      ],
      [{ id: 'acme/c', version: '3.0.0', optional: false }],
    ]);
  });

  it('requires a version on every order entry', () => {
    const e = errorOf(() => parse(`${component()}\n[[order]]\n[[order.group]]\nid = "acme/a"\n`));
    expect(e.message).toBe(`${FILE}: order[0].group[0].version is required`);
  });

  it('refuses [[stacks]] in a composite buildpack', () => {
    const e = errorOf(() =>
      parse(`${component()}\n[[stacks]]\nid = "*"\n[[order]]\n[[order.group]]\nid = "acme/a"\nversion = "1.0.0"\n`),
    );
    expect(e.message).toContain('must not declare [[stacks]]');
  });

  it.each([
    ['acme node', "may only contain letters, numbers, '.', '/' and '-'"],
    ['app', 'is reserved'],
    ['sbom', 'is reserved'],
  ])('rejects buildpack id %j', (id, why) => {
    const e = errorOf(() => parse(`api = "0.12"\n[buildpack]\nid = "${id}"\nversion = "1.0.0"\n`));
    expect(e.code).toBe('CONTENT_INVALID');
    expect(e.message).toContain(why);
    expect(e.message).toContain(FILE);
  });

  it.each(['1.0', 'latest', '01.2.3', 'v1.2.3'])('rejects buildpack version %j', (version) => {
    const e = errorOf(() => parse(`api = "0.12"\n[buildpack]\nid = "a"\nversion = "${version}"\n`));
    expect(e.message).toBe(`${FILE}: buildpack version "${version}" must be X.Y.Z (non-negative integers without leading zeros)`);
  });

  it('accepts sbom-formats lading cannot place, as the Go lifecycle does (files of that type fail later)', () => {
    expect(parse(component('0.12', 'sbom-formats = ["text/plain"]')).info.sbomFormats).toEqual(['text/plain']);
  });

  it('names the file and line of a TOML syntax error', () => {
    const e = errorOf(() => parse('api = "0.12"\n[buildpack]\nid = "a"\nversion = 1.0.0\n'));
    expect(e.code).toBe('CONTENT_INVALID');
    expect(e.message).toMatch(new RegExp(`^${FILE}:4: invalid TOML: `));
    expect(e.message).not.toContain('\n');
  });

  it('names the key of a value with the wrong type', () => {
    expect(errorOf(() => parse(component('0.12', 'clear-env = "yes"'))).message).toBe(`${FILE}: buildpack.clear-env must be true or false`);
    expect(errorOf(() => parse('api = "0.12"\n')).message).toBe(`${FILE}: buildpack.id is required`);
  });
});

describe('buildpack.md: Buildpack API Compatibility', () => {
  it.each(['0.10', '0.11', '0.12'])('accepts Buildpack API %s', (api) => {
    expect(parse(component(api)).api).toBe(api);
  });

  it.each(['0.9', '0.13', '1.0', '1'])('refuses Buildpack API %s with BUILDPACK_API naming the file and range', (api) => {
    const e = errorOf(() => parse(component(api)));
    expect(e.code).toBe('BUILDPACK_API');
    expect(e.message).toBe(`${FILE}: Buildpack API ${api} is not supported; lading supports Buildpack API 0.10 to 0.12`);
  });

  it('refuses a malformed api value', () => {
    expect(errorOf(() => checkBuildpackApi('0.x', FILE)).message).toContain('is not a Buildpack API version');
  });
});

describe('buildpack.md: Targets', () => {
  it('reads [[targets]] with distros', () => {
    const bp = parse(component('0.12', '[[targets]]\nos = "linux"\narch = "arm64"\nvariant = "v8"\n[[targets.distros]]\nname = "debian"\nversion = "12"\n'));
    expect(bp.targets).toEqual([{ os: 'linux', arch: 'arm64', variant: 'v8', distros: [{ name: 'debian', version: '12' }] }]);
    expect(effectiveTargets(bp, { build: true })).toBe(bp.targets);
  });

  it('infers linux from bin/build when no targets are declared', () => {
    expect(effectiveTargets(parse(component()), { build: true })).toEqual([{ os: 'linux', distros: [] }]);
    expect(effectiveTargets(parse(component()), { build: false, windowsBuild: true })).toEqual([{ os: 'windows', distros: [] }]);
  });

  it('translates deprecated [[stacks]]: "*" matches anything, bionic becomes ubuntu 18.04', () => {
    const any = parse(component('0.12', '[[stacks]]\nid = "*"\n'));
    expect(any.stacks).toEqual([{ id: '*', mixins: [] }]);
    expect(effectiveTargets(any, { build: true })).toEqual([{ distros: [] }]);
    const bionic = parse(component('0.12', '[[stacks]]\nid = "io.buildpacks.stacks.bionic"\nmixins = ["build:git"]\n'));
    expect(effectiveTargets(bionic, { build: true })).toEqual([{ os: 'linux', arch: 'amd64', distros: [{ name: 'ubuntu', version: '18.04' }] }]);
  });

  it('refuses mixins on the "*" stack', () => {
    expect(errorOf(() => parse(component('0.12', '[[stacks]]\nid = "*"\nmixins = ["git"]\n'))).message).toContain('stacks[0].mixins must be empty');
  });

  it('matches os/arch/variant and at least one distro; missing fields match anything', () => {
    const image = { os: 'linux', arch: 'amd64', distro: { name: 'debian', version: '12' } };
    expect(targetSatisfies({ os: 'linux', distros: [] }, image)).toBe(true);
    expect(targetSatisfies({ os: 'linux', arch: 'arm64', distros: [] }, image)).toBe(false);
    expect(targetSatisfies({ os: 'linux', distros: [{ name: 'ubuntu' }, { name: 'debian', version: '12' }] }, image)).toBe(true);
    expect(targetSatisfies({ os: 'linux', distros: [{ name: 'debian', version: '11' }] }, image)).toBe(false);
    expect(targetSatisfies({ os: 'windows', distros: [] }, image)).toBe(false);
  });
});
