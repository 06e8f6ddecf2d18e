import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { randomImage } from '../support/random-image.js';
import { readAll, writeImage } from '../../registry/image/index.js';
import { openSink, openSource } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import { parseManifest, type Digest, type Image } from '../../registry/oci/index.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE, LADING_BUILD_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE, sourceDigest,
} from '../../sbom/attestation/index.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'test/fixtures/apps/hello');
const BUILDPACK = join(ROOT, 'test/fixtures/buildpacks/bash/launch-tool');

/** The in-toto statements signed onto `ref`, by predicate type. */
async function statements(ref: string, env: NodeJS.ProcessEnv): Promise<Map<string, Record<string, any>>> {
  const source = await openSource(parseReference(ref), { env });
  try {
    const out = new Map<string, Record<string, any>>();
    for (const r of await source.referrers((await source.resolve()).digest)) {
      const m = parseManifest((await source.manifest(r.digest)).bytes, 'referrer');
      if (m.kind !== 'manifest') continue;
      const bundle = JSON.parse((await readAll(await source.blob(m.manifest.layers[0]!))).toString());
      if (!bundle.dsseEnvelope) continue;
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
      out.set(statement.predicateType, statement);
    }
    return out;
  } finally {
    await source.close();
  }
}

describe('lading build --sign-key --provenance (issue 7 acceptance)', () => {
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let run: Image;
  let runRef: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-sign-build-'));
    env = { LADING_HOME: join(tmp, 'home'), SOURCE_DATE_EPOCH: undefined, LADING_KEY_PASSPHRASE: 'build pass' };
    run = await randomImage({ layers: 1 });
    runRef = `oci:${join(tmp, 'run')}:base`;
    const sink = await openSink(parseReference(runRef), { env });
    await writeImage(sink, run);
    await sink.commit();
    const gen = await lading(['keygen', '--out-dir', join(tmp, 'keys')], env);
    expect(gen.code, gen.stderr).toBe(0);
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('signs after export and attaches a signed SLSA provenance: run image digest, buildpacks and versions, source digest, no secrets, no clock', async () => {
    const out = `oci:${join(tmp, 'out')}:app`;
    const r = await lading(['build', out, '-p', APP, '-b', BUILDPACK, '--run-image', runRef, '-e', 'SECRET_TOKEN=hunter2', '-e', 'BP_GREETING=hi',
      '--sign-key', join(tmp, 'keys', 'lading.key'), '--provenance', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const built = r.json<{ digest: Digest; signatures: { digest: Digest; predicateType: string }[] }>();
    expect(built.signatures.map((s) => s.predicateType)).toEqual([COSIGN_SIGN_PREDICATE_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE]);

    const v = await lading(['verify', out, '--key', join(tmp, 'keys', 'lading.pub'), '--json'], env);
    expect(v.code, v.stderr).toBe(0);
    expect(v.json<{ digest: Digest; verified: { predicateType: string }[] }>()).toMatchObject({
      digest: built.digest,
      verified: expect.arrayContaining([expect.objectContaining({ predicateType: SLSA_PROVENANCE_PREDICATE_TYPE })]),
    });

    const provenance = (await statements(out, env)).get(SLSA_PROVENANCE_PREDICATE_TYPE)!;
    expect(provenance.subject).toEqual([{ name: '', digest: { sha256: built.digest.slice(7) } }]);
    const { buildDefinition, runDetails } = provenance.predicate;
    expect(buildDefinition.buildType).toBe(LADING_BUILD_TYPE);
    expect(buildDefinition.externalParameters).toEqual({
      image: out, publish: false, buildpacks: ['launch-tool'], runImage: runRef, env: ['BP_GREETING', 'SECRET_TOKEN'],
    });
    const text = JSON.stringify(provenance);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(tmp.slice(5) + '/keys');
    expect(buildDefinition.resolvedDependencies).toEqual([
      { name: 'run-image', uri: expect.any(String), digest: { sha256: run.descriptor.digest.slice(7) } },
      { name: 'buildpack:fixtures/launch-tool', uri: 'urn:cnb:buildpack:fixtures/launch-tool@0.1.0', annotations: { id: 'fixtures/launch-tool', version: '0.1.0' } },
      { name: 'source', uri: 'urn:lading:source:app-dir', digest: { sha256: (await sourceDigest(APP)).slice(7) } },
    ]);
    expect(runDetails.builder).toEqual({ id: 'urn:lading:builder:local', version: { lading: expect.stringMatching(/^\d+\.\d+\.\d+/) } });
    expect(runDetails.metadata).toEqual({});

    // A rebuild of the same inputs gives the same image and the same provenance statement.
    const again = `oci:${join(tmp, 'again')}:app`;
    const r2 = await lading(['build', again, '-p', APP, '-b', BUILDPACK, '--run-image', runRef, '-e', 'SECRET_TOKEN=other', '-e', 'BP_GREETING=hi',
      '--sign-key', join(tmp, 'keys', 'lading.key'), '--provenance', '--json'], env);
    expect(r2.code, r2.stderr).toBe(0);
    const p2 = (await statements(again, env)).get(SLSA_PROVENANCE_PREDICATE_TYPE)!;
    expect(r2.json<{ digest: string }>().digest).toBe(built.digest);
    expect({ ...p2.predicate, buildDefinition: { ...p2.predicate.buildDefinition, externalParameters: {} } })
      .toEqual({ ...provenance.predicate, buildDefinition: { ...buildDefinition, externalParameters: {} } });
  });

  it('bad signing flags fail before building: --provenance without --sign-key, an archive destination, a wrong passphrase after export is exit 15', async () => {
    const noKey = await lading(['build', `oci:${join(tmp, 'x')}:app`, '-p', APP, '-b', BUILDPACK, '--run-image', runRef, '--provenance'], env);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('--provenance needs --sign-key FILE');
    const archive = await lading(['build', `oci-archive:${join(tmp, 'x.tar')}`, '-p', APP, '-b', BUILDPACK, '--run-image', runRef, '--sign-key', 'k'], env);
    expect(archive.code).toBe(2);
    const wrong = await lading(['build', `oci:${join(tmp, 'wrong')}:app`, '-p', APP, '-b', BUILDPACK, '--run-image', runRef,
      '--sign-key', join(tmp, 'keys', 'lading.key')], { ...env, LADING_KEY_PASSPHRASE: 'nope' });
    expect(wrong.code).toBe(15);
    expect(wrong.stderr).toContain('wrong passphrase');
  });

  it('lading sign --provenance on an existing image reads buildpacks and run image from its labels', async () => {
    const out = `oci:${join(tmp, 'out')}:app`;
    const r = await lading(['sign', out, '--key', join(tmp, 'keys', 'lading.key'), '--provenance', '--builder-id', 'https://ci.example/runner', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const provenance = (await statements(out, env)).get(SLSA_PROVENANCE_PREDICATE_TYPE)!;
    expect(provenance.predicate.runDetails.builder.id).toBe('https://ci.example/runner');
    expect(provenance.predicate.buildDefinition.resolvedDependencies.map((d: { name: string }) => d.name)).toEqual(['run-image', 'buildpack:fixtures/launch-tool']);
  });
});
