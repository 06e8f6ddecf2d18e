import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { startRegistry } from './registry.js';
import { layoutSbomProblems, sbomDirProblems, sbomDocumentProblems, sbomOutputDirOf } from './sbom-check.js';
import { spdxSchema } from './sbom.js';
import { requireTools } from './tools.js';

const CDX = 'application/vnd.cyclonedx+json';
const SPDX = 'application/spdx+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${sha('{}')}`, size: 2 };

function sha(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

const goodCdx = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'a', version: '1.0.0', licenses: [{ license: { id: 'MIT' } }] }] });
const badCdx = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'a', version: '1.0.0', licenses: [{ license: { id: 'Apache 2' } }] }] });
const goodSpdx = JSON.stringify({
  spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: 'x', documentNamespace: 'https://example.invalid/x',
  creationInfo: { created: '1980-01-01T00:00:01Z', creators: ['Tool: t-1'] },
  packages: [{ SPDXID: 'SPDXRef-Package-a', name: 'a', versionInfo: '1.0.0', downloadLocation: 'NOASSERTION', filesAnalyzed: false }],
});
const badSpdx = JSON.stringify({ ...JSON.parse(goodSpdx), packages: [{ SPDXID: 'SPDXRef-Package-a', name: 'a', versionInfo: '1.0.0', filesAnalyzed: false }] });

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Blob { digest: string; bytes: Buffer; mediaType: string }
const blob = (bytes: Buffer | string, mediaType: string): Blob => ({ digest: `sha256:${sha(bytes)}`, bytes: Buffer.from(bytes), mediaType });
const desc = (b: Blob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.bytes.length });

/** An image whose CNB SBOM layer holds `files`, and a CycloneDX referrer of it holding `referrerDoc`: all blobs, the two manifests last. */
async function artifacts(files: Record<string, string>, referrerDoc: string): Promise<{ blobs: Blob[]; image: Blob; referrer: Blob }> {
  const app = blob(gzipSync(await tarOf({ 'workspace/app.txt': 'hi' })), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const sbomTar = await tarOf(files);
  const sbomLayer = blob(gzipSync(sbomTar), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const config = blob(JSON.stringify({
    architecture: 'amd64', os: 'linux',
    config: { Labels: { 'io.buildpacks.lifecycle.metadata': JSON.stringify({ sbom: { sha: `sha256:${sha(sbomTar)}` } }) } },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha(await tarOf({ 'workspace/app.txt': 'hi' }))}`, `sha256:${sha(sbomTar)}`] },
  }), 'application/vnd.oci.image.config.v1+json');
  const image = blob(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: desc(config), layers: [desc(app), desc(sbomLayer)] }), MANIFEST);
  const doc = blob(referrerDoc, CDX);
  const referrer = blob(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, artifactType: CDX, config: EMPTY, layers: [desc(doc)], subject: desc(image) }), MANIFEST);
  return { blobs: [app, sbomLayer, config, doc, blob('{}', EMPTY.mediaType)], image, referrer };
}

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'lading-sbom-check-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('SBOM documents', () => {
  it('accepts valid CycloneDX 1.6 and SPDX 2.3', async () => {
    expect(await sbomDocumentProblems(goodCdx, 'a.cdx.json', 'cyclonedx', '1.6')).toEqual([]);
    expect(await sbomDocumentProblems(goodSpdx, 'a.spdx.json', 'spdx')).toEqual([]);
  });

  it('names the file and the JSON pointer of each schema error', async () => {
    const cdx = await sbomDocumentProblems(badCdx, 'a.cdx.json');
    expect(cdx.length).toBeGreaterThan(0);
    expect(cdx.join('\n')).toContain('a.cdx.json /components/0/licenses/0');
    if (spdxSchema()) expect(await sbomDocumentProblems(badSpdx, 'a.spdx.json')).toEqual(["a.spdx.json /packages/0: must have required property 'downloadLocation' 'downloadLocation'"]);
  });

  it('reports text that is not JSON, the wrong format, and an unexpected CycloneDX version', async () => {
    expect((await sbomDocumentProblems('{', 'x.json'))[0]).toMatch(/^x\.json: not JSON/);
    expect(await sbomDocumentProblems(goodSpdx, 'x.cdx.json', 'cyclonedx')).toEqual(['x.cdx.json: a spdx document where cyclonedx was expected']);
    expect(await sbomDocumentProblems('{"a":1}', 'x.json')).toEqual(['x.json: neither CycloneDX (bomFormat) nor SPDX (spdxVersion)']);
    expect(await sbomDocumentProblems(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5' }), 'r', 'cyclonedx', '1.6')).toEqual(['r /specVersion: 1.5, expected 1.6']);
  });
});

describe('--sbom-output-dir trees', () => {
  it('validates every *.cdx.json and *.spdx.json below the directory; an empty one is a problem', async () => {
    const d = temp();
    mkdirSync(join(d, 'launch/bp/layer'), { recursive: true });
    writeFileSync(join(d, 'sbom.cdx.json'), goodCdx);
    writeFileSync(join(d, 'launch/bp/layer/sbom.cdx.json'), badCdx);
    writeFileSync(join(d, 'launch/bp/layer/sbom.syft.json'), '{}');
    const problems = await sbomDirProblems(d);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith(join(d, 'launch/bp/layer/sbom.cdx.json')))).toBe(true);
    const empty = temp();
    expect(await sbomDirProblems(empty)).toEqual([`${empty}: holds no *.cdx.json or *.spdx.json file`]);
  });

  it('finds the directory in a lading argument list, in both spellings', () => {
    expect(sbomOutputDirOf(['build', 'img', '--sbom-output-dir', '/tmp/s', '--json'])).toBe('/tmp/s');
    expect(sbomOutputDirOf(['build', '--sbom-output-dir=/tmp/t'])).toBe('/tmp/t');
    expect(sbomOutputDirOf(['build', 'img'])).toBeUndefined();
  });
});

describe('OCI layouts', () => {
  async function layout(files: Record<string, string>, referrerDoc: string): Promise<{ dir: string; image: string; referrer: string }> {
    const dir = temp();
    const a = await artifacts(files, referrerDoc);
    mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
    for (const b of [...a.blobs, a.image, a.referrer]) writeFileSync(join(dir, 'blobs/sha256', b.digest.slice(7)), b.bytes);
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(dir, 'index.json'), JSON.stringify({
      schemaVersion: 2, manifests: [{ ...desc(a.image), annotations: { 'org.opencontainers.image.ref.name': 'app' } }, desc(a.referrer)],
    }));
    return { dir, image: a.image.digest, referrer: a.referrer.digest };
  }

  it('finds nothing wrong with valid referrers and CNB SBOM layers', async () => {
    const l = await layout({ 'layers/sbom/launch/bp/l/sbom.cdx.json': goodCdx, 'layers/sbom/launch/bp/l/sbom.spdx.json': goodSpdx }, goodCdx);
    expect(await layoutSbomProblems(l.dir)).toEqual([]);
  });

  it('names the image, the file in the CNB SBOM layer and the referrer with their JSON pointers', async () => {
    const l = await layout({ 'layers/sbom/launch/bp/l/sbom.spdx.json': badSpdx, 'layers/sbom/launch/bp/l/sbom.cdx.json': badCdx }, badCdx);
    const text = (await layoutSbomProblems(l.dir)).join('\n');
    expect(text).toContain(`oci:${l.dir}@${l.image} CNB SBOM layer sha256:`);
    expect(text).toContain('/layers/sbom/launch/bp/l/sbom.cdx.json /components/0/licenses/0');
    if (spdxSchema()) expect(text).toContain("/layers/sbom/launch/bp/l/sbom.spdx.json /packages/0: must have required property 'downloadLocation'");
    expect(text).toContain(`oci:${l.dir}@${l.referrer} (SBOM referrer, ${CDX} sha256:`);
  });

  it('an image whose label names an SBOM layer without SBOM files is a problem', async () => {
    const l = await layout({ 'layers/sbom/launch/bp/l/other.txt': 'x' }, goodCdx);
    expect(await layoutSbomProblems(l.dir)).toEqual([expect.stringContaining('holds no SBOM file')]);
  });
});

/** The mechanism in the real registry: stop() reads the storage and fails on an invalid SBOM anywhere in it. */
describe.skipIf(!requireTools('docker-registry'))('startRegistry().stop() validates every stored SBOM', () => {
  async function push(url: string, repo: string, a: Awaited<ReturnType<typeof artifacts>>): Promise<void> {
    for (const b of a.blobs) {
      const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      expect(start.status).toBe(202);
      const location = new URL(start.headers.get('location') as string, url);
      location.searchParams.set('digest', b.digest);
      const put = await fetch(location, { method: 'PUT', body: b.bytes, headers: { 'content-type': 'application/octet-stream' } });
      expect(put.status, await put.text()).toBe(201);
    }
    for (const m of [a.image, a.referrer]) {
      const put = await fetch(`${url}/v2/${repo}/manifests/${m.digest}`, { method: 'PUT', body: m.bytes, headers: { 'content-type': MANIFEST } });
      expect(put.status, await put.text()).toBe(201);
    }
  }

  it('resolves when every SBOM is valid', async () => {
    const registry = await startRegistry();
    await push(registry.url, 'ok/app', await artifacts({ 'layers/sbom/launch/bp/l/sbom.cdx.json': goodCdx }, goodCdx));
    await expect(registry.stop()).resolves.toBeUndefined();
  });

  it('rejects, after cleaning up, naming the repository, digest, file and JSON pointer', async () => {
    const registry = await startRegistry();
    const a = await artifacts({ 'layers/sbom/launch/bp/l/sbom.cdx.json': badCdx }, badCdx);
    await push(registry.url, 'bad/app', a);
    const err = await registry.stop().then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toContain(`invalid SBOMs in registry ${registry.host}`);
    expect(err?.message).toContain(`${registry.host}/bad/app@${a.image.digest} CNB SBOM layer sha256:`);
    expect(err?.message).toContain('/layers/sbom/launch/bp/l/sbom.cdx.json /components/0/licenses/0');
    expect(err?.message).toContain(`${registry.host}/bad/app@${a.referrer.digest} (SBOM referrer`);
    const { existsSync } = await import('node:fs');
    expect(existsSync(registry.dataDir)).toBe(false);
  });

  it('checkSboms: false skips the check', async () => {
    const registry = await startRegistry({ checkSboms: false });
    await push(registry.url, 'bad/app', await artifacts({ 'layers/sbom/launch/bp/l/sbom.cdx.json': badCdx }, badCdx));
    await expect(registry.stop()).resolves.toBeUndefined();
  });
});
