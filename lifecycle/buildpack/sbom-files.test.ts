import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifySbomFiles, listSbomFileNames, sbomDestination } from './sbom-files.js';

const DIR = '/layers/acme_node';
const bp = { id: 'acme/node', sbomFormats: ['application/vnd.cyclonedx+json', 'application/spdx+json;version=2.3'] };
const layers = new Map([
  ['node', { launch: true, build: true, cache: true }],
  ['npm-cache', { launch: false, build: false, cache: true }],
  ['tools', { launch: false, build: true, cache: false }],
]);

describe('buildpack.md: Software-Bill-of-Materials', () => {
  it('classifies layer, launch and build SBOM files by the layer types', () => {
    const files = classifySbomFiles(
      DIR,
      ['node.sbom.cdx.json', 'npm-cache.sbom.spdx.json', 'tools.sbom.cdx.json', 'launch.sbom.cdx.json', 'build.sbom.spdx.json', 'gone.sbom.cdx.json'],
      layers,
      bp,
    );
    expect(files.map((f) => [f.layer ?? '-', f.scope, f.ext, sbomDestination(f, bp.id)])).toEqual([
      ['-', 'build', 'spdx.json', 'sbom/build/acme_node/sbom.spdx.json'],
      ['-', 'launch', 'cdx.json', 'sbom/launch/acme_node/sbom.cdx.json'],
      ['node', 'launch', 'cdx.json', 'sbom/launch/acme_node/node/sbom.cdx.json'],
      ['node', 'cache', 'cdx.json', 'sbom/cache/acme_node/node/sbom.cdx.json'],
      ['npm-cache', 'build', 'spdx.json', 'sbom/build/acme_node/npm-cache/sbom.spdx.json'],
      ['npm-cache', 'cache', 'spdx.json', 'sbom/cache/acme_node/npm-cache/sbom.spdx.json'],
      ['tools', 'build', 'cdx.json', 'sbom/build/acme_node/tools/sbom.cdx.json'],
    ]);
    expect(files[0]).toMatchObject({ path: join(DIR, 'build.sbom.spdx.json'), mediaType: 'application/spdx+json' });
  });

  it('refuses a media type the buildpack did not declare in sbom-formats, naming the file', () => {
    expect(() => classifySbomFiles(DIR, ['node.sbom.syft.json'], layers, bp)).toThrow(
      expect.objectContaining({
        code: 'BUILD',
        message: `${DIR}/node.sbom.syft.json: SBOM media type application/vnd.syft+json is not declared in sbom-formats of buildpack acme/node`,
      }),
    );
    expect(() => classifySbomFiles(DIR, ['launch.sbom.cdx.json'], layers, { id: 'x', sbomFormats: [] })).toThrow('is not declared in sbom-formats of buildpack x');
  });

  it('refuses an unknown SBOM extension', () => {
    expect(() => classifySbomFiles(DIR, ['node.sbom.xml.json'], layers, bp)).toThrow(`${DIR}/node.sbom.xml.json: unsupported SBOM format "xml.json"`);
  });

  it('lists only *.sbom.*.json files of a layers dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-sbom-'));
    try {
      for (const n of ['node.sbom.cdx.json', 'node.toml', 'launch.sbom.spdx.json', 'notes.json', 'x.sbom.txt']) await writeFile(join(dir, n), '{}');
      expect(await listSbomFileNames(dir)).toEqual(['launch.sbom.spdx.json', 'node.sbom.cdx.json']);
      expect(await listSbomFileNames(join(dir, 'missing'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
