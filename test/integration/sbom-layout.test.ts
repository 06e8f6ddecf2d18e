import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cdxComponents, cyclonedxErrors, dpkgRecords, spdxErrors } from '../support/sbom.js';
import { expectValidLayoutSboms } from '../support/sbom-check.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SDK_SBOM_WRITER = join(ROOT, 'test/fixtures/buildpacks/sdk/sbom-writer');
/** Shared with stack.test.ts and rebase.test.ts: .debs are content-addressed and verified. */
const DEB_CACHE = join(tmpdir(), 'lading-test-debs');
const CDX = 'application/vnd.cyclonedx+json';
const SPDX = 'application/spdx+json';

interface IndexEntry { digest: string; mediaType: string; artifactType?: string; annotations?: Record<string, string> }
interface Referrer { digest: string; artifactType?: string }

/**
 * Image SBOMs in an OCI layout: referrers as untagged index.json entries, found by lading inspect and
 * lading sbom; carried to the registry by `lading copy --referrers`; byte-identical documents from two
 * builds of the same app in different directories; the stack image's own OS SBOM referrers.
 */
describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'docker-registry', 'skopeo', 'umoci'))('image SBOMs in an OCI layout', () => {
  let dir: string;
  let registry: TestRegistry;
  let env: NodeJS.ProcessEnv;
  let stack: string;
  const out = () => join(dir, 'out');
  const ref = () => `oci:${out()}:app`;
  const index = (layout: string) => JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: IndexEntry[] };
  /** One build of the app copied to `src`, into the same layout path, with its own cache; its SBOMs read back. */
  async function build(src: string) {
    const app = join(dir, src);
    cpSync(join(ROOT, 'test/fixtures/apps/go-http'), app, { recursive: true });
    rmSync(out(), { recursive: true, force: true });
    const r = await lading(['build', ref(), '-p', app, '-b', SDK_SBOM_WRITER, '--run-image', `oci:${stack}:run-base`, '--cache-dir', join(dir, `cache-${src}`), '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const docs: Record<string, Buffer> = {};
    for (const format of ['cyclonedx', 'spdx']) {
      const file = join(dir, `${src}.${format}.json`);
      const s = await lading(['sbom', ref(), '--format', format, '-o', file], env);
      expect(s.code, s.stderr).toBe(0);
      docs[format] = readFileSync(file);
    }
    const referrers = index(out()).manifests.filter((m) => m.artifactType).map((m) => m.digest).sort();
    // Every SBOM in the layout validates: the two referrers and the image's CNB SBOM layer files.
    const seen = await expectValidLayoutSboms(out());
    expect([seen.referrerDocuments, seen.sbomLayers]).toEqual([2, 1]);
    expect(seen.layerFiles).toBeGreaterThanOrEqual(3);
    return { digest: r.json<{ digest: string }>().digest, docs, referrers };
  }
  let first: Awaited<ReturnType<typeof build>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-sbom-layout-'));
    env = { LADING_HOME: join(dir, 'home') };
    registry = await startRegistry();
    const src = join(dir, 'mini-v1');
    cpSync(join(ROOT, 'test/fixtures/stacks/mini-v1'), src, { recursive: true });
    expect((await lading(['stack', 'lock', src], env)).code).toBe(0);
    stack = join(dir, 'stack');
    const r = await lading(['stack', 'build', src, '--output', `oci:${stack}`, '--deb-cache', DEB_CACHE, '--json'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    first = await build('app-one');
  });
  afterAll(async () => {
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores the two referrers as untagged index.json entries, found by lading inspect and lading sbom', async () => {
    const entries = index(out()).manifests;
    const image = entries.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app')!;
    expect(image.digest).toBe(first.digest);
    const refs = entries.filter((m) => m.artifactType);
    expect(refs.map((m) => m.artifactType).sort()).toEqual([CDX, SPDX].sort());
    for (const m of refs) expect(m.annotations?.['org.opencontainers.image.ref.name']).toBeUndefined();
    const inspect = await lading(['inspect', ref(), '--json'], env);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.json<{ referrers: Referrer[] }>().referrers.map((r) => r.digest).sort()).toEqual(first.referrers);
    expect(await cyclonedxErrors(first.docs.cyclonedx!.toString())).toEqual([]);
    expect(await spdxErrors(first.docs.spdx!.toString())).toEqual([]);
    const bom = JSON.parse(first.docs.cyclonedx!.toString());
    expect(bom.metadata.component).toMatchObject({ name: ref(), version: first.digest });
    const names = cdxComponents(bom).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['libc6', 'base-files', 'zlib', 'node', 'app-dep']));
  });

  it('is deterministic: a second build from another directory gives the same image, referrers and SBOM bytes', async () => {
    const second = await build('app-two');
    expect(second.digest).toBe(first.digest);
    expect(second.referrers).toEqual(first.referrers);
    expect(second.docs.cyclonedx!.equals(first.docs.cyclonedx!)).toBe(true);
    expect(second.docs.spdx!.equals(first.docs.spdx!)).toBe(true);
  });

  it('lading copy --referrers carries them to the registry (fallback tag), where lading sbom reads the same documents', async () => {
    const dest = `${registry.host}/layout/app:v1`;
    const r = await lading(['copy', '--referrers', ref(), `docker://${dest}`], env);
    expect(r.code, r.stderr).toBe(0);
    const fallback = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/layout/app:${first.digest.replace(':', '-')}`]).toString());
    expect((fallback.manifests as Referrer[]).map((m) => m.digest).sort()).toEqual(first.referrers);
    for (const format of ['cyclonedx', 'spdx'] as const) {
      const file = join(dir, `copied.${format}.json`);
      const s = await lading(['sbom', dest, '--format', format, '-o', file], env);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stderr).toContain('from the SBOM referrers');
      expect(readFileSync(file).equals(first.docs[format]!)).toBe(true); // the document names the image as built
    }
    // Without --referrers the copy has no SBOM referrers; lading sbom assembles the SBOM from the CNB layer.
    const bare = `${registry.host}/layout/bare:v1`;
    expect((await lading(['copy', ref(), `docker://${bare}`], env)).code).toBe(0);
    const s = await lading(['sbom', bare, '--format', 'table'], env);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain('from the CNB SBOM layer');
  });

  it('the stack image carries its OS SBOM as referrers (scope os): every dpkg record, with its version', async () => {
    const entries = index(stack).manifests.filter((m) => m.artifactType);
    expect(entries.map((m) => m.artifactType).sort()).toEqual([CDX, SPDX].sort());
    const file = join(dir, 'stack.cdx.json');
    const r = await lading(['sbom', `oci:${stack}:run-base`, '-o', file], env);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(await cyclonedxErrors(text)).toEqual([]);
    const debs = cdxComponents(JSON.parse(text)).filter((c) => c.purl?.startsWith('pkg:deb/'));
    const records = dpkgRecords(stack, 'run-base');
    expect([...records].filter(([n, v]) => !debs.some((c) => c.name === n && c.version === v))).toEqual([]);
    expect(debs).toHaveLength(records.size);
    for (const e of entries) {
      const manifest = JSON.parse(readFileSync(join(stack, 'blobs/sha256', e.digest.slice('sha256:'.length)), 'utf8'));
      expect(manifest.annotations['io.lading.sbom.scope']).toBe('os');
      expect(manifest.subject.digest).toBe(index(stack).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'run-base')!.digest);
    }
  });
});
