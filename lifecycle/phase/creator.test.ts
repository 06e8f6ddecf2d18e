import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeImage } from '../../registry/image/index.js';
import { openLayoutSink, openLayoutSource } from '../../registry/layout/index.js';
import { LadingError, type ContentSource } from '../../registry/oci/index.js';
import { randomImage } from '../../test/support/random-image.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { loadBuildpackCatalog, type BuildpackCatalog } from '../buildpack/index.js';
import type { LayerCache } from '../cache/index.js';
import { NO_ISOLATION } from '../isolation/index.js';
import { create, orderOfBuildpacks, projectMetadata, type CreateInput } from './index.js';

const BASH = resolve(import.meta.dirname, '../../test/fixtures/buildpacks/bash');
const trees = tempTrees('lading-creator-');
afterEach(() => trees.cleanup());

let catalog: BuildpackCatalog;
beforeAll(async () => {
  catalog = await loadBuildpackCatalog([join(BASH, 'env-reporter'), join(BASH, 'build-fails')]);
});

async function inputs(id: string, extra: Partial<CreateInput> = {}): Promise<{ input: CreateInput; tmp: string; out: string }> {
  const root = await trees.create({ 'app/index.txt': 'hi' }, ['tmp', 'run', 'out']);
  const run = await randomImage({ files: { 'bin/sh': '#!shell', 'var/lib/dpkg/status.d/busybox': 'Package: busybox\nVersion: 1:1.35.0-4\n' } });
  const runSink = await openLayoutSink({ transport: 'oci', path: join(root, 'run'), tag: 'run' });
  await writeImage(runSink, run);
  await runSink.commit();
  const source: ContentSource = await openLayoutSource({ transport: 'oci', path: join(root, 'run'), tag: 'run' });
  const input: CreateInput = {
    appDir: join(root, 'app'),
    catalog,
    order: orderOfBuildpacks([{ id }]),
    runImage: { source, image: 'run' },
    sink: await openLayoutSink({ transport: 'oci', path: join(root, 'out'), tag: 'app' }),
    hostEnv: { PATH: process.env['PATH'], CNB_REGISTRY_AUTH: '{"secret":"x"}' },
    isolation: NO_ISOLATION,
    tempDir: join(root, 'tmp'),
    ...extra,
  };
  return { input, tmp: join(root, 'tmp'), out: join(root, 'out') };
}

describe('platform.md "creator": the phases in one process', () => {
  it('runs analyze → detect → restore → build → export with user env in <platform>/env and durations per phase, then removes its build dir', async () => {
    const binding = await trees.create({ 'type': 'maven\n', 'settings.xml': '<settings/>' });
    const { input, tmp } = await inputs('fixtures/env-reporter', { platformEnv: { BP_GREETING: 'howdy' }, bindings: [{ name: 'm2', source: binding }] });
    let output = '';
    const phases: string[] = [];
    const result = await create({ ...input, onOutput: (_bp, chunk) => (output += chunk), onDetectRun: (r) => (output += r.output), onPhase: (p, e) => phases.push(`${p}:${e}`) });
    // the previous image is read while /bin/detect runs, so analyze ends with detect
    expect(phases).toEqual(['analyze:start', 'detect:start', 'detect:end', 'analyze:end', 'restore:start', 'restore:end', 'build:start', 'build:end', 'export:start', 'export:end']);
    expect(Object.keys(result.durations)).toEqual(['analyze', 'detect', 'restore', 'build', 'export']);
    expect(output).toContain('PLATFORM_FILE=howdy');
    expect(output).toContain('CNB_REGISTRY_AUTH=<unset>');
    // the run image's dpkg records, for buildpacks that bring Debian packages (lading extension)
    expect(output).toContain('RUN_PACKAGES=Package: busybox ');
    expect(output).toContain('BINDING_TYPES=maven ');
    expect(result.exported.digest).toMatch(/^sha256:/);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('reads the previous image while detect runs, and its failure is the ANALYZE error though detect passed', async () => {
    const { input, out } = await inputs('fixtures/env-reporter');
    const broken = { ...input.runImage.source, location: 'registry example/app', resolve: () => Promise.reject(new LadingError('IO', 'connection reset')) } as ContentSource;
    const phases: string[] = [];
    const err = await create({ ...input, previousImage: broken, onPhase: (p, e) => phases.push(`${p}:${e}`) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ANALYZE', message: expect.stringContaining('previous image registry example/app') });
    expect(phases).toEqual(['analyze:start', 'detect:start', 'detect:end', 'analyze:end']);
    expect(await readdir(out)).not.toContain('index.json');
  });

  it("checks the cache's kept trees while /bin/detect runs, once", async () => {
    const events: string[] = [];
    const cache: LayerCache = {
      location: 'test cache',
      read: async () => ({ buildpacks: [] }),
      open: () => Promise.reject(new Error('not used')),
      write: async () => ({ written: 0, reused: 0 }),
      checkTrees: () => void events.push('checkTrees'),
    };
    const { input } = await inputs('fixtures/env-reporter');
    await create({ ...input, cache, onPhase: (p, e) => events.push(`${p}:${e}`) });
    expect(events.slice(0, 4)).toEqual(['analyze:start', 'detect:start', 'checkTrees', 'detect:end']);
    expect(events.filter((e) => e === 'checkTrees')).toHaveLength(1);
    events.length = 0;
    const again = await inputs('fixtures/env-reporter');
    await create({ ...again.input, cache, clearCache: true });
    expect(events).toEqual([]);
  });

  it('removes the build dir and tags nothing when a buildpack fails', async () => {
    const { input, tmp, out } = await inputs('fixtures/build-fails');
    await expect(create(input)).rejects.toMatchObject({ code: 'BUILDPACK_FAILED' });
    expect(await readdir(tmp)).toEqual([]);
    const index = await readFile(join(out, 'index.json'), 'utf8').catch(() => '{}');
    expect(index).not.toContain('"app"');
  });

  it('a cancelled signal stops before the next phase with INTERRUPTED', async () => {
    const controller = new AbortController();
    const { input, tmp } = await inputs('fixtures/env-reporter', { signal: controller.signal, onPhase: (p, e) => p === 'detect' && e === 'end' && controller.abort() });
    await expect(create(input)).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(await readdir(tmp)).toEqual([]);
  });

  it('fails NOT_FOUND on a missing app dir before making anything', async () => {
    const { input, tmp } = await inputs('fixtures/env-reporter');
    await expect(create({ ...input, appDir: '/no/such/app' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await readdir(tmp)).toEqual([]);
  });

  it('writes project metadata as pack does from project.toml version and source-url', () => {
    expect(projectMetadata({ version: '1.0.2', sourceUrl: 'https://example.com/x' } as never)).toEqual({
      source: { type: 'project', version: { declared: '1.0.2' }, metadata: { url: 'https://example.com/x' } },
    });
    expect(projectMetadata(undefined)).toBeUndefined();
  });
});
