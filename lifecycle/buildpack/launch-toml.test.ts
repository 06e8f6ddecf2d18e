import { describe, expect, it } from 'vitest';
import { checkUnmet, mergeProcesses, parseBuildToml, parseLaunchToml, parseStoreToml } from './launch-toml.js';

const FILE = '/layers/acme_node/launch.toml';

describe('buildpack.md: launch.toml (TOML)', () => {
  it('reads processes with command arrays, args, default, working-dir and exec-env; labels; slices', () => {
    const launch = parseLaunchToml(
      `
[[labels]]
key = "org.example.team"
value = "platform"

[[processes]]
type = "web"
command = ["node", "--enable-source-maps"]
args = ["server.js"]
default = true
working-dir = "/workspace/api"
exec-env = ["production"]

[[processes]]
type = "worker.v2_x-y"
command = ["node"]

[[slices]]
paths = ["public/*", "/workspace/static"]
`,
      FILE,
    );
    expect(launch).toEqual({
      labels: [{ key: 'org.example.team', value: 'platform' }],
      processes: [
        { type: 'web', command: ['node', '--enable-source-maps'], args: ['server.js'], default: true, workingDir: '/workspace/api', execEnv: ['production'] },
        { type: 'worker.v2_x-y', command: ['node'], args: [], default: false },
      ],
      slices: [{ paths: ['public/*', '/workspace/static'] }],
    });
  });

  it.each(['web server', 'web/1', 'wéb', 'a:b'])('rejects process type %j', (type) => {
    expect(() => parseLaunchToml(`[[processes]]\ntype = "${type}"\ncommand = ["x"]\n`, FILE)).toThrow(
      expect.objectContaining({ code: 'BUILD', message: `${FILE}: processes[0].type: process type "${type}" may only contain letters, numbers, '.', '_' and '-'` }),
    );
  });

  it('rejects duplicate types, two defaults, string commands and empty commands', () => {
    const p = (body: string) => () => parseLaunchToml(body, FILE);
    expect(p('[[processes]]\ntype = "web"\ncommand = ["a"]\n[[processes]]\ntype = "web"\ncommand = ["b"]\n')).toThrow('processes[1]: duplicate process type "web"');
    expect(p('[[processes]]\ntype = "a"\ncommand = ["a"]\ndefault = true\n[[processes]]\ntype = "b"\ncommand = ["b"]\ndefault = true\n')).toThrow(
      'processes[1]: only one process may be default ("a" and "b")',
    );
    expect(p('[[processes]]\ntype = "web"\ncommand = "node server.js"\n')).toThrow('processes[0].command must be an array of strings');
    expect(p('[[processes]]\ntype = "web"\ncommand = []\n')).toThrow('processes[0].command must name an executable');
    expect(p('[[processes]]\ncommand = ["x"]\n')).toThrow('processes[0].type is required');
  });

  it('rejects duplicate label keys', () => {
    expect(() => parseLaunchToml('[[labels]]\nkey = "a"\nvalue = "1"\n[[labels]]\nkey = "a"\nvalue = "2"\n', FILE)).toThrow('labels[1]: duplicate label key "a"');
  });

  it.each([
    ['../etc', 'climbs out of the app directory'],
    ['a/../../b', 'climbs out of the app directory'],
    ['/etc/passwd', 'is outside the app directory /workspace'],
    ['/workspace/../etc', 'is outside the app directory /workspace'],
  ])('rejects slice path %j', (path, why) => {
    expect(() => parseLaunchToml(`[[slices]]\npaths = ["${path}"]\n`, FILE)).toThrow(`${FILE}: slices[0].paths: "${path}" ${why}`);
  });

  it('accepts slices relative to or absolute within a custom app dir', () => {
    expect(parseLaunchToml('[[slices]]\npaths = ["/app/x", "y/**"]\n', FILE, { appDir: '/app' }).slices).toEqual([{ paths: ['/app/x', 'y/**'] }]);
  });

  it('names the line of a syntax error and warns about the legacy [[bom]]', () => {
    expect(() => parseLaunchToml('[[processes]]\ntype = web\ncommand = ["x"]\n', FILE)).toThrow(/^\/layers\/acme_node\/launch\.toml:2: invalid TOML/);
    const warnings: string[] = [];
    parseLaunchToml('[[bom]]\nname = "x"\n', FILE, { onWarning: (w) => warnings.push(w) });
    expect(warnings[0]).toContain('[[bom]] is ignored since Buildpack API 0.7');
  });

  it('combines processes across buildpacks: later types override, the last default wins', () => {
    const merged = mergeProcesses([
      { buildpackId: 'a', processes: [{ type: 'web', command: ['a'], args: [], default: true }, { type: 'task', command: ['t'], args: [], default: false }] },
      { buildpackId: 'b', processes: [{ type: 'worker', command: ['w'], args: [], default: true }] },
    ]);
    expect(merged.defaultType).toBe('worker');
    expect(merged.processes.map((p) => `${p.type}:${p.buildpackId}`)).toEqual(['task:a', 'web:a', 'worker:b']);
  });

  it('a later non-default definition of the default type leaves the image without a default', () => {
    const merged = mergeProcesses([
      { buildpackId: 'a', processes: [{ type: 'web', command: ['a'], args: [], default: true }] },
      { buildpackId: 'b', processes: [{ type: 'web', command: ['b'], args: [], default: false }] },
    ]);
    expect(merged.defaultType).toBeUndefined();
    expect(merged.processes).toEqual([{ type: 'web', command: ['b'], args: [], default: false, buildpackId: 'b' }]);
  });
});

describe('buildpack.md: build.toml (TOML) and store.toml (TOML)', () => {
  const BUILD = '/layers/acme_node/build.toml';

  it('reads [[unmet]] names and checks them against the buildpack plan', () => {
    const build = parseBuildToml('[[unmet]]\nname = "node"\n[[unmet]]\nname = "yarn"\n', BUILD);
    expect(build.unmet).toEqual(['node', 'yarn']);
    expect(() => checkUnmet(build, ['node', 'yarn', 'node'], BUILD)).not.toThrow();
    expect(() => checkUnmet(build, ['node'], BUILD)).toThrow(`${BUILD}: unmet entry "yarn" does not match any entry of the buildpack plan`);
    expect(() => parseBuildToml('[[unmet]]\n', BUILD)).toThrow(`${BUILD}: unmet[0].name is required`);
  });

  it('reads store.toml [metadata]', () => {
    expect(parseStoreToml('[metadata]\nlast = "20.1.0"\n[metadata.deps]\nn = 3\n', '/layers/acme_node/store.toml')).toEqual({ last: '20.1.0', deps: { n: 3 } });
    expect(parseStoreToml('', '/layers/acme_node/store.toml')).toEqual({});
  });
});
