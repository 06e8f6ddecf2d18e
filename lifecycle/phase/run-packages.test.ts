import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferLayer, imageOf, tarOf } from '../../test/support/random-image.js';
import { dpkgStatusText, writeRunImagePackages } from './run-packages.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('run-image packages for buildpacks', () => {
  it('collects status.d records and the status file across layers, later layers and whiteouts winning', async () => {
    const lower = await tarOf({
      'var/lib/dpkg/status.d/zlib1g': 'Package: zlib1g\nVersion: 1:1.2.13\nArchitecture: amd64\n',
      'var/lib/dpkg/status.d/zlib1g.md5sums': 'ignored  /usr/lib/x',
      'var/lib/dpkg/status.d/gone': 'Package: gone\nVersion: 1\n',
      'var/lib/dpkg/status': 'Package: libc6\nStatus: install ok installed\nVersion: 2.36\n\nPackage: base-files\nStatus: install ok installed\nVersion: 12\n',
    });
    const upper = await tarOf({ 'var/lib/dpkg/status.d/.wh.gone': '', 'var/lib/dpkg/status.d/tzdata': 'Package: tzdata\nVersion: 2024a\n' });
    const image = imageOf([bufferLayer(lower), bufferLayer(upper)]);
    const text = await dpkgStatusText(image, 'test');
    expect([...text.matchAll(/^Package: (\S+)/gm)].map((m) => m[1])).toEqual(['base-files', 'libc6', 'tzdata', 'zlib1g']);
    expect(text).not.toContain('ignored');

    const platform = await mkdtemp(join(tmpdir(), 'lading-platform-'));
    dirs.push(platform);
    const seen = await writeRunImagePackages(platform, '/platform', { base: image });
    expect(seen).toBe('/platform/lading/run-images');
    expect(await readFile(join(platform, 'lading/run-images/base.status'), 'utf8')).toBe(text);

    // kept between builds, keyed by the layers: a second build reads the cached list
    const cache = join(platform, 'cache');
    await writeRunImagePackages(platform, '/platform', { base: image }, cache);
    const [entry] = await readdir(cache);
    expect(entry).toMatch(/^[0-9a-f]{64}\.status$/);
    await writeFile(join(cache, entry!), 'Package: from-cache\n');
    await writeRunImagePackages(platform, '/platform', { base: image }, cache);
    expect(await readFile(join(platform, 'lading/run-images/base.status'), 'utf8')).toBe('Package: from-cache\n');
  });
});
