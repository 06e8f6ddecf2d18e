import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf } from '../../registry/oci/index.js';
import { LADING_BUILD_TYPE, LADING_BUILDER_ID, provenancePredicate } from './provenance.js';
import { sourceDigest } from './source-digest.js';

describe('SLSA provenance v1 predicate', () => {
  const run = digestOf('run image');
  const src = digestOf('source');

  it('has the required fields, dependencies in a fixed order, and no times unless given', () => {
    const p = provenancePredicate({
      ladingVersion: '0.1.0',
      externalParameters: { image: 'app', env: ['A'] },
      runImage: { reference: 'reg/run@' + run, digest: run },
      buildpacks: [{ id: 'z/go', version: '1.0.0' }, { id: 'a/node', version: '2.0.0', homepage: 'https://example.com/node' }],
      source: { name: 'source', digest: src },
    });
    expect(p).toEqual({
      buildDefinition: {
        buildType: LADING_BUILD_TYPE,
        externalParameters: { image: 'app', env: ['A'] },
        internalParameters: {},
        resolvedDependencies: [
          { name: 'run-image', uri: `reg/run@${run}`, digest: { sha256: run.slice(7) } },
          { name: 'buildpack:a/node', uri: 'urn:cnb:buildpack:a/node@2.0.0', downloadLocation: 'https://example.com/node', annotations: { id: 'a/node', version: '2.0.0' } },
          { name: 'buildpack:z/go', uri: 'urn:cnb:buildpack:z/go@1.0.0', annotations: { id: 'z/go', version: '1.0.0' } },
          { name: 'source', uri: 'urn:lading:source:app-dir', digest: { sha256: src.slice(7) } },
        ],
      },
      runDetails: { builder: { id: LADING_BUILDER_ID, version: { lading: '0.1.0' } }, metadata: {} },
    });
    const timed = provenancePredicate({ ladingVersion: '0.1.0', externalParameters: {}, buildpacks: [], builderId: 'https://ci.example', startedOn: 'S', finishedOn: 'F' });
    expect(timed.runDetails).toEqual({ builder: { id: 'https://ci.example', version: { lading: '0.1.0' } }, metadata: { startedOn: 'S', finishedOn: 'F' } });
  });
});

describe('sourceDigest', () => {
  it('depends on paths, contents, exec bits and links — not on times, location or VCS dirs', async () => {
    const make = () => {
      const d = mkdtempSync(join(tmpdir(), 'lading-src-'));
      mkdirSync(join(d, 'lib'));
      writeFileSync(join(d, 'lib', 'a.js'), 'a');
      writeFileSync(join(d, 'run.sh'), '#!/bin/sh\n');
      chmodSync(join(d, 'run.sh'), 0o755);
      symlinkSync('lib/a.js', join(d, 'link'));
      return d;
    };
    const a = make();
    const b = make();
    try {
      utimesSync(join(b, 'lib', 'a.js'), 1, 1);
      mkdirSync(join(b, '.git'));
      writeFileSync(join(b, '.git', 'HEAD'), 'ref');
      const da = await sourceDigest(a);
      expect(await sourceDigest(b)).toBe(da);
      chmodSync(join(b, 'run.sh'), 0o644);
      const modeChanged = await sourceDigest(b);
      expect(modeChanged).not.toBe(da);
      writeFileSync(join(a, 'lib', 'a.js'), 'A');
      expect(await sourceDigest(a)).not.toBe(da);
      await expect(sourceDigest(join(a, 'missing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
});
