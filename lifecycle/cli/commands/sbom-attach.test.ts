import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeImage } from '../../../registry/image/index.js';
import { openSink, openSource } from '../../../registry/open.js';
import { parseReference, type ImageReference } from '../../../registry/reference.js';
import { SBOM_SCOPE_ANNOTATION, findSbomReferrers } from '../../../sbom/index.js';
import { randomImage } from '../../../test/support/random-image.js';
import { SBOM_INPUT_ANNOTATION, SBOM_PACKAGES_ANNOTATION, attachImageSbom, sbomInputDigest } from './sbom-attach.js';

describe('attachImageSbom: a rebuild giving the same image keeps its SBOM referrers', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  const layoutWithImage = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-sbom-attach-'));
    dirs.push(dir);
    const dest: ImageReference = parseReference(`oci:${join(dir, 'layout')}:app`);
    const image = await randomImage();
    const sink = await openSink(dest, {});
    await writeImage(sink, image);
    await sink.commit();
    return { dir, dest, digest: image.descriptor.digest };
  };

  it('annotates the referrers with the input digest and package count, then reuses them instead of pushing again', async () => {
    const { dir, dest, digest } = await layoutWithImage();
    const first = await attachImageSbom({ dest, name: 'app', digest, options: {} });
    expect(first.referrers.map((r) => r.artifactType)).toEqual(['application/vnd.cyclonedx+json', 'application/spdx+json']);
    expect(Number.isSafeInteger(first.packages)).toBe(true);
    const source = await openSource(dest, {});
    const listed = await source.referrers(digest);
    await source.close();
    expect(listed).toHaveLength(2);
    for (const d of listed) {
      expect(d.annotations?.[SBOM_SCOPE_ANNOTATION]).toBe('image');
      expect(d.annotations?.[SBOM_INPUT_ANNOTATION]).toBe(sbomInputDigest('app'));
      expect(d.annotations?.[SBOM_PACKAGES_ANNOTATION]).toBe(String(first.packages));
    }
    const indexBefore = await readFile(join(dir, 'layout', 'index.json'), 'utf8');

    // Same image, same name: the attached referrers are the answer; the layout is not written.
    const again = await attachImageSbom({ dest, name: 'app', digest, options: {}, sbomDir: join(dir, 'sbom') });
    expect(again.referrers.map((r) => r.digest)).toEqual(first.referrers.map((r) => r.digest));
    expect(again.packages).toBe(first.packages);
    expect(await readFile(join(dir, 'layout', 'index.json'), 'utf8')).toBe(indexBefore);
    // --sbom-output-dir still gets the documents, fetched from the referrers.
    const s2 = await openSource(dest, {});
    const docs = await findSbomReferrers(s2, digest);
    await s2.close();
    const cdx = docs.find((d) => d.format === 'cyclonedx')!;
    expect(await readFile(join(dir, 'sbom', 'sbom.cdx.json'))).toEqual(cdx.bytes);
    expect(JSON.parse(await readFile(join(dir, 'sbom', 'sbom.spdx.json'), 'utf8')).spdxVersion).toBe('SPDX-2.3');
  });

  it('makes new documents when the name differs (it is the SBOM root component)', async () => {
    const { dest, digest } = await layoutWithImage();
    const first = await attachImageSbom({ dest, name: 'app', digest, options: {} });
    const other = await attachImageSbom({ dest, name: 'other', digest, options: {} });
    expect(other.referrers.map((r) => r.digest)).not.toEqual(first.referrers.map((r) => r.digest));
    const source = await openSource(dest, {});
    expect(await source.referrers(digest)).toHaveLength(4);
    await source.close();
  });
});
