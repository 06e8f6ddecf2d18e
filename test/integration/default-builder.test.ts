import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listStoreImages } from '../../registry/layout/index.js';
import { lading } from '../support/cli.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FLAVOR_BP = join(ROOT, 'test/fixtures/buildpacks/bash/run-image-flavor');
/** Shared with stack.test.ts and rebase.test.ts: .debs are content-addressed and re-verified. */
const DEB_CACHE = join(tmpdir(), 'lading-test-debs');

interface BuildJson { digest: string; runImage: { image: string; reference: string } }

/**
 * `lading build` without -B and without --run-image: the bookworm stack is built into an empty LADING_HOME on
 * first use (once, also when two builds start together) and reused afterwards; the build picks run-base or
 * run-static by the io.lading.run-image label.
 */
describe.skipIf(!requireTools('apt-get', 'dpkg-deb'))('the default builder: the bookworm stack built on first use', () => {
  let dir: string;
  let app: string;
  const env = () => ({ LADING_HOME: join(dir, 'home'), SOURCE_DATE_EPOCH: undefined });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lading-default-builder-'));
    app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'main.txt'), 'an app\n');
    // The store home is empty but for .debs other tests fetched already (the default deb cache lives there).
    if (existsSync(DEB_CACHE)) cpSync(DEB_CACHE, join(dir, 'home', 'cache', 'debs'), { recursive: true });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('two first builds at once build the stack once into the store and export onto run-base; a later build reuses it', async () => {
    const build = (name: string) => lading(['build', name, '-p', app, '-b', FLAVOR_BP, '-e', 'RUN_IMAGE_FLAVOR=none', '--json'], env());
    const [one, two] = await Promise.all([build('first:v1'), build('second:v1')]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    const builds = [one, two].filter((r) => r.stderr.includes('Building the default stack io.lading.stacks.bookworm'));
    expect(builds).toHaveLength(1);
    expect(builds[0]!.stderr).toMatch(/\w+ is not in the local store; once, from .*stacks\/bookworm\/stack\.lock/);
    expect(builds[0]!.stderr).toMatch(/Built build [0-9a-f]{12}, run-base [0-9a-f]{12}, run-static [0-9a-f]{12}/);
    for (const r of [one, two]) expect(r.json<BuildJson>().runImage.image).toBe('lading/stacks/bookworm/run-base:latest');

    const names = (await listStoreImages({ env: env() })).map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining([
      'lading/stacks/bookworm/build:latest', 'lading/stacks/bookworm/run-base:latest', 'lading/stacks/bookworm/run-static:latest', 'first:v1', 'second:v1',
    ]));

    // Afterwards: no rebuild; the static label now exports onto run-static.
    const again = await lading(['build', 'third:v1', '-p', app, '-b', FLAVOR_BP, '--json'], env());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('Building the default stack');
    expect(again.json<BuildJson>().runImage.image).toBe('lading/stacks/bookworm/run-static:latest');
    expect(again.stderr).toContain('Run image: lading/stacks/bookworm/run-static:latest (static: a buildpack set io.lading.run-image = "static")');
  });
});
