import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterHostEnv, loadBuildpackCatalog, type BuildpackCatalog, type GroupMember, type PlanEntry } from '../buildpack/index.js';
import { availableIsolation, NO_ISOLATION, type Isolation } from '../isolation/index.js';
import { exitCodeFor, platformFeatures } from '../platform/index.js';
import { isLadingError } from '../../registry/oci/index.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { requireTools } from '../../test/support/tools.js';
import { BuildpackFailedError, runBuilder, type BuilderInputs } from './builder.js';

const FIXTURES = resolve(import.meta.dirname, '../../test/fixtures/buildpacks/bash');
const HAVE_TOOLS = requireTools('bwrap');
const trees = tempTrees('lading-builder-');
let catalog: BuildpackCatalog;
let isolation: Isolation;
beforeAll(async () => {
  catalog = await loadBuildpackCatalog([FIXTURES]);
  if (HAVE_TOOLS) isolation = await availableIsolation();
});
afterAll(() => trees.cleanup());

const host = {
  HOME: '/home/dev',
  PATH: '/usr/local/bin:/usr/bin:/bin',
  CNB_REGISTRY_AUTH: '{"registry.example":"Basic c2VjcmV0"}',
  DOCKER_CONFIG: '/home/dev/.docker',
  REGISTRY_AUTH_FILE: '/home/dev/auth.json',
};
const member = (id: string): GroupMember => {
  const bp = catalog.findBuildpack(id);
  return { id, version: bp.info.version, api: bp.api };
};
const runtimePlan = (...providers: string[]): PlanEntry[] => [
  { providers: providers.map((id) => ({ id, version: catalog.findBuildpack(id).info.version })), requires: [{ name: 'runtime', metadata: { version: '18' } }] },
];
const report = (out: string) => Object.fromEntries(out.trim().split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

async function inputs(group: string[], plan: PlanEntry[], extra: Partial<BuilderInputs> = {}) {
  const root = await trees.create({ 'app/needs-runtime': '18', 'platform/env/BP_GREETING': 'hi' }, ['layers']);
  const output = new Map<string, string>();
  const base: BuilderInputs = {
    group: group.map(member),
    plan,
    catalog,
    appDir: join(root, 'app'),
    layersDir: join(root, 'layers'),
    platformDir: join(root, 'platform'),
    features: platformFeatures('0.15'),
    isolation,
    env: filterHostEnv(host),
    target: { os: 'linux', arch: 'amd64' },
    onOutput: (bp, chunk) => output.set(bp.id, (output.get(bp.id) ?? '') + chunk),
    ...extra,
  };
  return { root, output, inputs: base };
}

describe.skipIf(!HAVE_TOOLS)('buildpack.md Phase #3: Build — bash buildpacks in the private namespace', () => {
  it('Build: args, working dir, CNB_* and layer env from earlier buildpacks; never registry credentials', async () => {
    const { output, inputs: input } = await inputs(['fixtures/provider', 'fixtures/launch-tool', 'fixtures/consumer'], runtimePlan('fixtures/provider'));
    // onSpawn: once per /bin/build, before its output
    const events: string[] = [];
    const onOutput = input.onOutput!;
    await runBuilder({ ...input, onSpawn: () => events.push('spawn'), onOutput: (bp, chunk) => { if (events.at(-1) !== bp.id) events.push(bp.id); onOutput(bp, chunk); } });
    expect(events.filter((e) => e === 'spawn')).toHaveLength(3);
    expect(events.indexOf('spawn')).toBeLessThan(events.indexOf('fixtures/launch-tool'));
    const seen = report(output.get('fixtures/launch-tool') ?? '');
    expect(seen).toMatchObject({
      pwd: '/workspace',
      CNB_LAYERS_DIR: '/layers/fixtures_launch-tool',
      CNB_BUILDPACK_DIR: '/cnb/buildpacks/fixtures_launch-tool/0.1.0',
      CNB_PLATFORM_DIR: '/platform',
      CNB_EXEC_ENV: 'production',
      CNB_TARGET_OS: 'linux',
      CNB_REGISTRY_AUTH: '<unset>',
      DOCKER_CONFIG: '<unset>',
      REGISTRY_AUTH_FILE: '<unset>',
      // Provider's build layer, at its image path: env/ file and bin/ first on PATH.
      RUNTIME_HOME: '/layers/fixtures_provider/runtime',
      PATH: '/layers/fixtures_provider/runtime/bin',
      BP_GREETING: 'hi',
      plan: 'entries = [] ',
    });
    expect(seen['args']).toBe(`/layers/fixtures_launch-tool /platform ${seen['CNB_BP_PLAN_PATH']}`);
  });

  it('Layers: absolute /layers and /workspace paths a buildpack writes exist for its processes; files land in the build’s dirs', async () => {
    const { root, inputs: input } = await inputs(['fixtures/provider', 'fixtures/launch-tool', 'fixtures/consumer'], runtimePlan('fixtures/provider'));
    const result = await runBuilder(input);
    const toolPath = '/layers/fixtures_launch-tool/tool/bin/tool';
    expect(await readFile(join(root, 'app', 'tool-path.txt'), 'utf8')).toBe(`${toolPath}\n`);
    expect((await stat(join(root, 'layers', 'fixtures_launch-tool', 'tool', 'bin', 'tool'))).mode & 0o111).not.toBe(0);
    expect(existsSync('/layers/fixtures_launch-tool')).toBe(false);
    const tool = result.processes.find((p) => p.type === 'tool')!;
    expect(tool.command).toEqual([toolPath]);
    const dirs = { appDir: input.appDir, layersDir: input.layersDir };
    const inv = isolation.wrap({ file: tool.command[0]!, args: tool.args, cwd: result.appMount, env: { PATH: '/usr/bin:/bin' } }, dirs);
    const ran = await execa(inv.file, inv.args, { cwd: inv.cwd, env: inv.env, extendEnv: false, reject: false, all: true });
    expect(ran.all).toBe('tool ran in /workspace');
  });

  it('Layer types, .ignore, launch.toml, store.toml, SBOM files and metadata.toml', async () => {
    const { root, inputs: input } = await inputs(['fixtures/provider', 'fixtures/launch-tool', 'fixtures/consumer'], runtimePlan('fixtures/provider'));
    const result = await runBuilder(input);
    const layers = join(root, 'layers');
    expect(result.appMount).toBe('/workspace');
    expect(result.layersMount).toBe('/layers');
    expect(result.buildpacks.map((b) => [b.id, b.layers.map((l) => `${l.name} ${l.path} ${JSON.stringify(l.types)} ${l.hasDir}`)])).toEqual([
      ['fixtures/provider', ['runtime /layers/fixtures_provider/runtime {"launch":true,"build":true,"cache":true} true']],
      ['fixtures/launch-tool', [
        'scratch /layers/fixtures_launch-tool/scratch {"launch":false,"build":false,"cache":false} true',
        'tool /layers/fixtures_launch-tool/tool {"launch":true,"build":false,"cache":false} true',
      ]],
      ['fixtures/consumer', []],
    ]);
    // "Ignored Layers": all-false types are renamed so later buildpacks cannot use them.
    expect(existsSync(join(layers, 'fixtures_launch-tool', 'scratch.ignore'))).toBe(true);
    expect(existsSync(join(layers, 'fixtures_launch-tool', 'scratch'))).toBe(false);
    expect(result.buildpacks[1]!.store).toEqual({ runs: 1 });
    expect(result.buildpacks[1]!.layers[1]!.metadata).toEqual({ version: '2.0' });
    // launch.toml: a later buildpack's default (consumer's web) wins over an earlier one's (tool).
    expect(result.processes.map((p) => `${p.type}:${p.buildpackId}`)).toEqual(['tool:fixtures/launch-tool', 'web:fixtures/consumer']);
    expect(result.defaultType).toBe('web');
    expect(result.labels).toEqual([{ key: 'org.example.tool', value: 'yes' }]);
    expect(result.slices).toEqual([{ paths: ['static'] }]);
    // Software Bill of Materials: copied to <layers>/sbom/<scope>/<bp>/[<layer>/]sbom.<ext>.
    const rel = (f: string) => f.slice(layers.length + 1);
    expect(result.sboms.map((s) => `${s.buildpackId} ${s.file.layer ?? '-'} ${s.file.mediaType} ${rel(s.file.path)}`)).toEqual([
      'fixtures/provider runtime application/vnd.cyclonedx+json sbom/launch/fixtures_provider/runtime/sbom.cdx.json',
      'fixtures/launch-tool - application/spdx+json sbom/launch/fixtures_launch-tool/sbom.spdx.json',
      'fixtures/launch-tool tool application/vnd.cyclonedx+json sbom/launch/fixtures_launch-tool/tool/sbom.cdx.json',
    ]);
    expect(result.buildSboms.map((s) => rel(s.file.path))).toEqual(['sbom/cache/fixtures_provider/runtime/sbom.cdx.json']);
    expect(await readFile(join(layers, 'sbom/launch/fixtures_launch-tool/tool/sbom.cdx.json'), 'utf8')).toBe('{"bomFormat":"CycloneDX","specVersion":"1.6"}\n');
    // platform.md builder output: <layers>/config/metadata.toml in the Go lifecycle's shape.
    const written = await readFile(join(layers, 'config', 'metadata.toml'), 'utf8');
    expect(written).toBe(result.metadataToml);
    expect(parse(written)).toEqual({
      'buildpack-default-process-type': 'web',
      buildpacks: [
        { id: 'fixtures/provider', version: '1.0.0', api: '0.12' },
        { id: 'fixtures/launch-tool', version: '0.1.0', api: '0.12' },
        { id: 'fixtures/consumer', version: '1.0.0', api: '0.11' },
      ],
      processes: [
        { type: 'tool', command: ['/layers/fixtures_launch-tool/tool/bin/tool'], args: [], direct: true, 'buildpack-id': 'fixtures/launch-tool' },
        { type: 'web', command: ['runtime', 'serve'], args: ['--port', '8080'], direct: true, 'buildpack-id': 'fixtures/consumer' },
      ],
      labels: [{ key: 'org.example.tool', value: 'yes' }],
      slices: [{ paths: ['static'] }],
    });
  });

  it('Unmet Buildpack Plan Entries: an entry left unmet passes to the next provider, else it is reported', async () => {
    const passed = await inputs(['fixtures/launch-tool', 'fixtures/provider'], runtimePlan('fixtures/launch-tool', 'fixtures/provider'), { platformEnv: { BP_LEAVE_UNMET: '1' } });
    const result = await runBuilder(passed.inputs);
    expect(report(passed.output.get('fixtures/launch-tool') ?? '')['plan']).toBe('[[entries]] name = "runtime"  [entries.metadata] version = "18" ');
    expect(result.buildpacks[0]!.unmet).toEqual(['runtime']);
    expect(result.buildpacks[1]!.layers.map((l) => l.name)).toEqual(['runtime']);
    expect(result.unmet).toEqual([]);
    const alone = await inputs(['fixtures/launch-tool'], runtimePlan('fixtures/launch-tool'), { platformEnv: { BP_LEAVE_UNMET: '1' } });
    expect((await runBuilder(alone.inputs)).unmet).toEqual(runtimePlan('fixtures/launch-tool'));
  });

  it('a failing /bin/build is BUILDPACK_FAILED (exit 51) with the tail of its output; later buildpacks do not run', async () => {
    const { output, inputs: input } = await inputs(['fixtures/build-fails', 'fixtures/launch-tool'], []);
    const err = (await runBuilder(input).catch((e: unknown) => e)) as BuildpackFailedError;
    expect(err).toBeInstanceOf(BuildpackFailedError);
    expect(err.code).toBe('BUILDPACK_FAILED');
    expect(exitCodeFor(err)).toBe(51);
    expect(err.exitCode).toBe(3);
    expect(err.buildpack).toMatchObject({ id: 'fixtures/build-fails', version: '0.1.0' });
    expect(err.output).toBe("build-fails: compiling\nbuild-fails: main.c:3: error: expected ';'\nbuild-fails: giving up");
    expect(err.message).toBe('buildpack fixtures/build-fails@0.1.0 failed: /cnb/buildpacks/fixtures_build-fails/0.1.0/bin/build exited with code 3 (last output: build-fails: giving up)');
    expect(output.get('fixtures/build-fails')).toBe(`${err.output}\n`);
    expect(output.has('fixtures/launch-tool')).toBe(false);
  });

  it('Software Bill of Materials: a format missing from sbom-formats fails the build naming the file', async () => {
    const { root, inputs: input } = await inputs(['fixtures/sbom-undeclared'], []);
    const err = await runBuilder(input).catch((e: unknown) => e);
    expect(isLadingError(err) && err.code).toBe('BUILD');
    expect((err as Error).message).toBe(
      `${join(root, 'layers', 'fixtures_sbom-undeclared', 'deps.sbom.syft.json')}: SBOM media type application/vnd.syft+json is not declared in sbom-formats of buildpack fixtures/sbom-undeclared`,
    );
  });
});

describe('design.md §1 — without a namespace (--workspace/--layers-dir), buildpacks see the real paths', () => {
  it('CNB_LAYERS_DIR, the working dir and process commands use the host dirs', async () => {
    const { root, output, inputs: input } = await inputs(['fixtures/launch-tool'], [], { isolation: NO_ISOLATION });
    const result = await runBuilder(input);
    const seen = report(output.get('fixtures/launch-tool') ?? '');
    expect(seen['pwd']).toBe(join(root, 'app'));
    expect(seen['CNB_LAYERS_DIR']).toBe(join(root, 'layers', 'fixtures_launch-tool'));
    expect(seen['CNB_BUILDPACK_DIR']).toBe(join(FIXTURES, 'launch-tool'));
    expect(result.appMount).toBe(join(root, 'app'));
    expect(result.layersMount).toBe(join(root, 'layers'));
    expect(result.processes[0]!.command).toEqual([join(root, 'layers', 'fixtures_launch-tool', 'tool', 'bin', 'tool')]);
  });
});
