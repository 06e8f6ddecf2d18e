import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { lading, type CliResult } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runImage } from '../support/run-image.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const NODE_BUILDPACK = join(ROOT, 'buildpacks/node');
const STACK = join(ROOT, 'stacks/bookworm');
const DEB_CACHE = join(tmpdir(), 'lading-test-debs');

/**
 * The bookworm stack's run-base (glibc, libstdc++: what a Node.js runtime needs) as `oci:<layout>:run-base`,
 * built once per stack.lock under the OS temp dir with `lading stack build` and reused by later test runs.
 */
export async function nodeRunImage(): Promise<string> {
  const lock = createHash('sha256').update(readFileSync(join(STACK, 'stack.lock'))).digest('hex').slice(0, 16);
  const layout = join(tmpdir(), `lading-node-stack-${lock}`);
  if (!existsSync(join(layout, 'index.json'))) {
    const work = mkdtempSync(join(tmpdir(), 'lading-node-stack-build-'));
    try {
      const r = await lading(['stack', 'build', STACK, '--output', `oci:${join(work, 'layout')}`, '--deb-cache', DEB_CACHE, '--json'], { LADING_HOME: join(work, 'home') });
      if (r.code !== 0) throw new Error(`lading stack build failed (${r.code}): ${r.stderr}${r.stdout}`);
      try {
        renameSync(join(work, 'layout'), layout);
      } catch (err) {
        // Another test file built it at the same time: the same lock gives the same images.
        if (!existsSync(join(layout, 'index.json'))) throw err;
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return `oci:${layout}:run-base`;
}

/** A copy of a fixture app in `dir`, so a test can change it. */
export function copyFixture(name: string, dir: string): string {
  cpSync(join(ROOT, 'test/fixtures/apps', name), dir, { recursive: true });
  return dir;
}

export interface NodeBuild {
  (app: string, out: string, extra?: string[]): Promise<CliResult>;
}

/** `lading build oci:<out>:app` of `app` with the Node.js buildpack, one shared --cache-dir, --json output. */
export function nodeBuilder(runImage: string, home: string, cacheDir: string): NodeBuild {
  return (app, out, extra = []) =>
    lading(['build', `oci:${out}:app`, '-p', app, '-b', NODE_BUILDPACK, '--run-image', runImage, '--cache-dir', cacheDir, '--json', ...extra], { LADING_HOME: home });
}

/** A describe block's temp dir, real registry and Node run image (see nodePublishSuite). */
export interface NodePublishSuite {
  readonly tmp: string;
  readonly registry: TestRegistry;
  readonly runImage: string;
  /** `lading build REF --publish` of `app` with the Node.js buildpack, --json, the suite's LADING_HOME. */
  build(ref: string, app: string, extra?: string[], cacheDir?: string): Promise<CliResult>;
  /** `lading copy docker://REF oci:<tmp>/pulled-NAME:app`; returns the layout. */
  pull(ref: string, name: string): Promise<string>;
}

/**
 * Set-up shared by the Node integration tests that publish: a temp dir, Debian's registry and the Node run
 * image made in beforeAll, removed in afterAll. `buildArgs` go into every build (e.g. `-e BP_…`). Call it
 * inside the describe block.
 */
export function nodePublishSuite(prefix: string, buildArgs: readonly string[] = []): NodePublishSuite {
  let tmp = '';
  let registry: TestRegistry | undefined;
  let image = '';
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), prefix));
    [registry, image] = await Promise.all([startRegistry(), nodeRunImage()]);
  }, 600_000);
  afterAll(async () => {
    try {
      await registry?.stop();
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  });
  const home = () => ({ LADING_HOME: join(tmp, 'home') });
  return {
    get tmp() {
      return tmp;
    },
    get registry() {
      if (!registry) throw new Error('the registry starts in beforeAll');
      return registry;
    },
    get runImage() {
      return image;
    },
    build: (ref, app, extra = [], cacheDir = join(tmp, 'cache')) =>
      lading(['build', ref, '-p', app, '-b', NODE_BUILDPACK, '--run-image', image, '--publish', '--cache-dir', cacheDir, '--json', ...buildArgs, ...extra], home()),
    pull: async (ref, name) => {
      const layout = join(tmp, `pulled-${name}`);
      const r = await lading(['copy', `docker://${ref}`, `oci:${layout}:app`], home());
      expect(r.code, r.stderr).toBe(0);
      return layout;
    },
  };
}

export interface BuildJson {
  digest: string;
  uploaded: number;
  layers: { name: string; diffId: string; digest: string; reused: boolean; recalled?: boolean }[];
}

/** Runs the image's default process under runc and returns the JSON the fixture app answers on `/`. */
export async function fetchAnswer(layout: string, env: Record<string, string> = {}): Promise<{ answer: Record<string, unknown>; user: { uid: number; gid: number }; env: string[] }> {
  const c = await runImage(layout, 'app', { env });
  try {
    const text = await c.fetch('/');
    let answer: Record<string, unknown>;
    try {
      answer = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`the app answered ${JSON.stringify(text)}\n${c.logs()}`);
    }
    return { answer, user: c.config.process.user, env: c.config.process.env };
  } finally {
    await c.stop();
  }
}

/** The layers of a build result by name (`<buildpack>:<layer>`, or `app`…), for comparing two builds. */
export function layersByName(b: BuildJson): Record<string, string> {
  return Object.fromEntries(b.layers.map((l) => [l.name, l.diffId]));
}
