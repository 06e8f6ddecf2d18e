import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lading } from '../support/cli.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cdxComponents, cyclonedxErrors, dpkgRecords, spdxErrors, type CdxComponent } from '../support/sbom.js';
import { expectValidLayoutSboms, expectValidSbomDir, newStats, registrySbomProblems } from '../support/sbom-check.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SDK_SBOM_WRITER = join(ROOT, 'test/fixtures/buildpacks/sdk/sbom-writer');
/** Shared with stack.test.ts and rebase.test.ts: .debs are content-addressed and verified. */
const DEB_CACHE = join(tmpdir(), 'lading-test-debs');
const CDX = 'application/vnd.cyclonedx+json';
const SPDX = 'application/spdx+json';

interface Referrer { digest: string; artifactType?: string; mediaType: string }

/**
 * Issue 7 end to end in the real registry 2.8 (no referrers API: the `sha256-<hex>` fallback tag): an app
 * built with the SDK sbom-writer buildpack over the mini-v1 stack's run image, its two SBOM referrers,
 * recall against the run image's dpkg records and the buildpack's SBOM files, `lading sbom` and its
 * subcommands, `--sbom none`, and the diff against the app rebased onto mini-v2.
 */
describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'docker-registry', 'skopeo', 'umoci'))('image SBOMs in a registry', () => {
  let dir: string;
  let registry: TestRegistry;
  let env: NodeJS.ProcessEnv;
  let app: string;
  let image: string;
  let digest: string;
  const stacks = (v: string) => join(dir, 'stacks', v);
  const runBase = (v: string) => `oci:${stacks(v)}:run-base`;
  const skopeoRaw = (ref: string) => JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]).toString());

  async function stack(version: string): Promise<void> {
    const d = join(dir, 'src', version);
    cpSync(join(ROOT, 'test/fixtures/stacks', version), d, { recursive: true });
    const lock = await lading(['stack', 'lock', d], env);
    expect(lock.code, lock.stderr).toBe(0);
    const r = await lading(['stack', 'build', d, '--output', `oci:${stacks(version)}`, '--deb-cache', DEB_CACHE, '--json'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-sbom-'));
    env = { LADING_HOME: join(dir, 'home') };
    registry = await startRegistry();
    await stack('mini-v1');
    await stack('mini-v2');
    app = join(dir, 'app');
    cpSync(join(ROOT, 'test/fixtures/apps/go-http'), app, { recursive: true }); // any app: the buildpack ignores it
    image = `${registry.host}/sbom/app:v1`;
    const r = await lading([
      'build', image, '--publish', '-p', app, '-b', SDK_SBOM_WRITER, '--run-image', runBase('mini-v1'),
      '--cache-dir', join(dir, 'cache'), '--sbom-output-dir', join(dir, 'sboms'), '--json',
    ], env);
    expect(r.code, r.stderr).toBe(0);
    digest = r.json<{ digest: string }>().digest;
  });
  afterAll(async () => {
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('attaches two referrers (CycloneDX, SPDX) found through the fallback tag, by skopeo and by lading inspect', async () => {
    const fallback = skopeoRaw(`${registry.host}/sbom/app:${digest.replace(':', '-')}`);
    expect(fallback.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const listed = (fallback.manifests as Referrer[]).map((m) => m.artifactType).sort();
    expect(listed).toEqual([CDX, SPDX].sort());
    for (const m of fallback.manifests as Referrer[]) {
      const manifest = skopeoRaw(`${registry.host}/sbom/app@${m.digest}`);
      expect(manifest.subject.digest).toBe(digest);
      expect(manifest.artifactType).toBe(m.artifactType);
      expect(manifest.layers).toHaveLength(1);
      expect(manifest.layers[0].mediaType).toBe(m.artifactType);
      expect(manifest.annotations['io.lading.sbom.scope']).toBe('image');
    }
    const inspect = await lading(['inspect', image, '--json'], env);
    expect(inspect.code, inspect.stderr).toBe(0);
    const refs = inspect.json<{ digest: string; referrers: Referrer[] }>();
    expect(refs.digest).toBe(digest);
    expect(refs.referrers.map((r) => r.digest).sort()).toEqual((fallback.manifests as Referrer[]).map((m) => m.digest).sort());
  });

  it('lading sbom -o writes CycloneDX and SPDX that pass the CycloneDX validator and the SPDX 2.3 schema; the image is the root', async () => {
    for (const format of ['cyclonedx', 'spdx']) {
      const file = join(dir, `out.${format}.json`);
      const r = await lading(['sbom', image, '--format', format, '-o', file], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('from the SBOM referrers');
      const text = readFileSync(file, 'utf8');
      expect(format === 'cyclonedx' ? await cyclonedxErrors(text) : await spdxErrors(text)).toEqual([]);
    }
    const bom = JSON.parse(readFileSync(join(dir, 'out.cyclonedx.json'), 'utf8'));
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.component).toMatchObject({ name: image, version: digest });
    const spdx = JSON.parse(readFileSync(join(dir, 'out.spdx.json'), 'utf8'));
    expect(spdx.spdxVersion).toBe('SPDX-2.3');
    const root = spdx.packages.find((p: { SPDXID: string }) => spdx.documentDescribes.includes(p.SPDXID));
    expect(root).toMatchObject({ name: image, versionInfo: digest });
  });

  it('recall: every dpkg record of the run image and every component of the buildpack\'s SBOM files, with matching versions', async () => {
    const bom = JSON.parse(readFileSync(join(dir, 'out.cyclonedx.json'), 'utf8'));
    const components = cdxComponents(bom);
    const debs = components.filter((c) => c.purl?.startsWith('pkg:deb/'));
    const records = dpkgRecords(stacks('mini-v1'), 'run-base');
    expect(records.size).toBeGreaterThanOrEqual(4); // libc6, base-files, ca-certificates, netbase and dependencies
    const missing = [...records].filter(([name, version]) => !debs.some((c) => c.name === name && c.version === version));
    expect(missing).toEqual([]);
    expect(debs).toHaveLength(records.size); // nothing invented
    const spdx = JSON.parse(readFileSync(join(dir, 'out.spdx.json'), 'utf8'));
    const spdxPkgs = spdx.packages as { name: string; versionInfo?: string }[];
    for (const [name, version] of records) expect(spdxPkgs.some((p) => p.name === name && p.versionInfo === version), `${name} ${version} in SPDX`).toBe(true);

    // The buildpack's own SBOM files, as it wrote them (--sbom-output-dir), every component listed.
    const files = readdirSync(join(dir, 'sboms'), { recursive: true }).map(String).filter((f) => f.includes('sdk-sbom-writer') && f.endsWith('.cdx.json'));
    expect(files.length).toBeGreaterThanOrEqual(2); // the runtime layer and launch.sbom
    const listed: CdxComponent[] = files.flatMap((f) => cdxComponents(JSON.parse(readFileSync(join(dir, 'sboms', f), 'utf8'))));
    expect(listed.map((c) => c.name)).toEqual(expect.arrayContaining(['zlib', 'node', '@scope/odd', 'app-dep']));
    for (const c of listed) expect(components.some((x) => x.purl === c.purl && x.version === c.version), `${c.purl} in the image SBOM`).toBe(true);
    for (const c of listed) expect(spdxPkgs.some((p) => p.name === c.name && p.versionInfo === c.version), `${c.name} in SPDX`).toBe(true);
    // Licenses as the buildpack declared them: text that is not SPDX kept (its LicenseRef resolved), never guessed.
    const odd = bom.components.find((c: CdxComponent) => c.name === 'odd' || c.name === '@scope/odd');
    expect(odd.licenses).toEqual([
      { license: { name: 'SEE LICENSE IN LICENSE.md', text: { contentType: 'text/plain', content: 'SEE LICENSE IN LICENSE.md' } } },
      { license: { name: 'MIT OR Apache-2.0' } },
    ]);
    const oddSpdx = spdx.packages.find((p: { name: string }) => p.name === '@scope/odd');
    const ref = /^(LicenseRef-[A-Za-z0-9.-]+) AND \(MIT OR Apache-2.0\)$/.exec(oddSpdx.licenseDeclared)?.[1];
    expect(spdx.hasExtractedLicensingInfos.find((e: { licenseId: string }) => e.licenseId === ref)?.extractedText).toBe('SEE LICENSE IN LICENSE.md');
  });

  it('--sbom-output-dir holds the image SBOMs and the per-layer ones', () => {
    const files = readdirSync(join(dir, 'sboms'), { recursive: true }).map(String);
    expect(files).toEqual(expect.arrayContaining(['sbom.cdx.json', 'sbom.spdx.json']));
    expect(files.some((f) => /^launch\/fixtures_sdk-sbom-writer\/runtime\/sbom\.cdx\.json$/.test(f)), files.join(', ')).toBe(true);
    expect(files.some((f) => /^launch\/fixtures_sdk-sbom-writer\/runtime\/sbom\.spdx\.json$/.test(f)), files.join(', ')).toBe(true);
    expect(files.some((f) => /^launch\/fixtures_sdk-sbom-writer\/sbom\.cdx\.json$/.test(f)), files.join(', ')).toBe(true);
    // The image SBOM on disk is the referrer's document, byte for byte.
    expect(readFileSync(join(dir, 'sboms', 'sbom.cdx.json'))).toEqual(readFileSync(join(dir, 'out.cyclonedx.json')));
    expect(readFileSync(join(dir, 'sboms', 'sbom.spdx.json'))).toEqual(readFileSync(join(dir, 'out.spdx.json')));
  });

  it('every SBOM is checked: the --sbom-output-dir files, the stacks\' OS SBOMs, and what stop() will read from the registry', async () => {
    await expectValidSbomDir(join(dir, 'sboms'));
    for (const v of ['mini-v1', 'mini-v2']) expect((await expectValidLayoutSboms(stacks(v))).referrerDocuments).toBeGreaterThanOrEqual(2);
    // The registry teardown (startRegistry().stop()) runs this same check on its storage: it sees this image's two
    // referrers and its CNB SBOM layer with the buildpack's files, and finds nothing wrong.
    const stats = newStats();
    expect(await registrySbomProblems(registry.dataDir, registry.host, stats)).toEqual([]);
    expect(stats.referrerDocuments).toBeGreaterThanOrEqual(2);
    expect(stats.sbomLayers).toBeGreaterThanOrEqual(1);
    expect(stats.layerFiles).toBeGreaterThanOrEqual(3);
  });

  it('lading sbom download writes layers/sbom/launch/<bp>/<layer>/sbom.<ext> as pack does (a subcommand, not an image)', async () => {
    const out = join(dir, 'download');
    const r = await lading(['sbom', 'download', image, '-o', out, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(join(out, 'layers', 'sbom'), { recursive: true }).map(String).sort();
    expect(files).toEqual(expect.arrayContaining([
      'launch/fixtures_sdk-sbom-writer/runtime/sbom.cdx.json',
      'launch/fixtures_sdk-sbom-writer/runtime/sbom.spdx.json',
      'launch/fixtures_sdk-sbom-writer/sbom.cdx.json',
    ]));
    expect(r.json<{ files: string[] }>().files.length).toBe(files.filter((f) => f.endsWith('.json')).length);
    expect(readFileSync(join(out, 'layers/sbom/launch/fixtures_sdk-sbom-writer/runtime/sbom.cdx.json')))
      .toEqual(readFileSync(join(dir, 'sboms/launch/fixtures_sdk-sbom-writer/runtime/sbom.cdx.json')));
  });

  it('lading sbom --format table summarizes by ecosystem', async () => {
    const r = await lading(['sbom', image, '--format', 'table'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^deb\s+\d+$/m);
    expect(r.stdout).toMatch(/^npm\s+2$/m);
    expect(r.stdout).toMatch(/^generic\s+2$/m);
  });

  it('lading sbom validate: a good file, an image, a file that is not JSON, a bad purl and a missing version (exit 5, JSON path)', async () => {
    const usage = await lading(['sbom'], env);
    expect(usage.code).toBe(2); // the image is still required without a subcommand
    const good = await lading(['sbom', 'validate', join(dir, 'out.spdx.json')], env);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('1 SBOM document valid');
    const onImage = await lading(['sbom', 'validate', image, '--json'], env);
    expect(onImage.code, onImage.stderr).toBe(0);
    const docs = onImage.json<{ documents: { file: string; format: string; problems: unknown[] }[] }>().documents;
    expect(docs.filter((d) => d.file.includes('referrer')).map((d) => d.format).sort()).toEqual(['cyclonedx', 'spdx']);
    expect(docs.length).toBeGreaterThanOrEqual(4); // + the buildpack's files in the CNB SBOM layer

    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, 'this is not { json');
    const r1 = await lading(['sbom', 'validate', notJson], env);
    expect(r1.code).toBe(5);
    expect(r1.stderr).toContain(notJson);
    expect(r1.stderr).toMatch(/not JSON|JSON/);

    const bom = JSON.parse(readFileSync(join(dir, 'out.cyclonedx.json'), 'utf8'));
    const i = bom.components.findIndex((c: CdxComponent) => c.name === 'zlib');
    bom.components[i].purl = 'pkg:/no-type@1';
    const badPurl = join(dir, 'bad-purl.cdx.json');
    writeFileSync(badPurl, JSON.stringify(bom));
    const r2 = await lading(['sbom', 'validate', badPurl], env);
    expect(r2.code).toBe(5);
    expect(r2.stderr).toContain(`$.components[${i}].purl`);

    const again = JSON.parse(readFileSync(join(dir, 'out.cyclonedx.json'), 'utf8'));
    delete again.components[i].version;
    const noVersion = join(dir, 'no-version.cdx.json');
    writeFileSync(noVersion, JSON.stringify(again));
    const r3 = await lading(['sbom', 'validate', noVersion], env);
    expect(r3.code).toBe(5);
    expect(r3.stderr).toContain(`$.components[${i}].version`);
    expect(r3.stderr).toContain('has no version');
  });

  it('an image without any SBOM: exit 4 and says so (--sbom none, and sbom download)', async () => {
    const bare = `${registry.host}/sbom/bare:v1`;
    const r = await lading(['build', bare, '--publish', '-p', app, '-b', SDK_SBOM_WRITER, '--run-image', runBase('mini-v1'), '--sbom', 'none', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const inspect = await lading(['inspect', bare, '--json'], env);
    expect(inspect.json<{ referrers: unknown[] }>().referrers).toEqual([]);
    // The CNB SBOM layer is still there: lading sbom assembles the image SBOM from it.
    const fromLayer = await lading(['sbom', bare, '-o', join(dir, 'bare.cdx.json')], env);
    expect(fromLayer.code, fromLayer.stderr).toBe(0);
    expect(fromLayer.stderr).toContain('from the CNB SBOM layer');
    // The run image itself in the registry, copied without referrers: no SBOM at all.
    const base = `${registry.host}/sbom/run-base:v1`;
    const copy = await lading(['copy', runBase('mini-v1'), `docker://${base}`], env);
    expect(copy.code, copy.stderr).toBe(0);
    for (const args of [['sbom', base], ['sbom', 'download', base, '-o', join(dir, 'none')], ['sbom', 'validate', base]]) {
      const n = await lading(args, env);
      expect(n.code, `${args.join(' ')}: ${n.stderr}`).toBe(4);
      expect(n.stderr).toMatch(/no SBOM|could not find SBoM/);
    }
  });

  it('lading sbom diff: the app and its rebase onto mini-v2 differ by exactly the added OS package; also on two files', async () => {
    const rebased = `${registry.host}/sbom/app:v2`;
    const cp = await lading(['copy', `docker://${image}`, `docker://${rebased}`], env);
    expect(cp.code, cp.stderr).toBe(0);
    const rb = await lading(['rebase', rebased, '--publish', '--run-image', runBase('mini-v2'), '--json'], env);
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    const rebasedOut = rb.json<{ digest: string; uploaded: number; layers: { reused: boolean }[]; addedPackages: string[]; sbom?: { packages: number; referrers: { digest: string }[] } }>();
    expect(rebasedOut.addedPackages).toEqual(['zlib1g']);
    // `uploaded` counts the image itself: mini-v2's new layer (the run image is an OCI layout here), config and
    // manifest; the SBOM referrer blobs are reported apart, in `sbom`.
    expect(rebasedOut.uploaded).toBe(rebasedOut.layers.filter((l) => !l.reused).length + 2);
    // Fresh referrers of the rebased manifest (CycloneDX, SPDX), found through the fallback tag, listing zlib1g.
    expect(rebasedOut.sbom?.referrers).toHaveLength(2);
    const fallback = skopeoRaw(`${registry.host}/sbom/app:${rebasedOut.digest.replace(':', '-')}`);
    expect((fallback.manifests as Referrer[]).map((m) => m.artifactType).sort()).toEqual([CDX, SPDX].sort());
    expect((fallback.manifests as Referrer[]).map((m) => m.digest).sort()).toEqual(rebasedOut.sbom!.referrers.map((r) => r.digest).sort());
    for (const format of ['cyclonedx', 'spdx']) {
      const file = join(dir, `rebased-referrer.${format}.json`);
      const s = await lading(['sbom', rebased, '--format', format, '-o', file], env);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stderr).toContain('from the SBOM referrers');
      const text = readFileSync(file, 'utf8');
      expect(format === 'cyclonedx' ? await cyclonedxErrors(text) : await spdxErrors(text)).toEqual([]);
      if (format === 'cyclonedx') {
        const bom = JSON.parse(text);
        expect(bom.metadata.component).toMatchObject({ version: rebasedOut.digest });
        expect(cdxComponents(bom).some((c) => c.name === 'zlib1g' && c.purl?.startsWith('pkg:deb/'))).toBe(true);
      } else {
        expect((JSON.parse(text).packages as { name: string }[]).some((p) => p.name === 'zlib1g')).toBe(true);
      }
    }
    const d = await lading(['sbom', 'diff', image, rebased, '--json'], env);
    expect(d.code, d.stderr).toBe(0);
    const diff = d.json<{ added: { name: string; ecosystem: string }[]; removed: unknown[]; changed: unknown[] }>();
    expect(diff.added.map((c) => `${c.ecosystem}/${c.name}`)).toEqual(['deb/zlib1g']);
    expect(diff.removed).toEqual([]);
    expect(diff.changed).toEqual([]);
    const text = await lading(['sbom', 'diff', image, rebased], env);
    expect(text.stdout.trim().split('\n')).toHaveLength(1);
    expect(text.stdout).toMatch(/^\+ deb zlib1g \S+/);

    const v2file = join(dir, 'rebased.spdx.json');
    expect((await lading(['sbom', rebased, '--format', 'spdx', '-o', v2file], env)).code).toBe(0);
    expect(await spdxErrors(readFileSync(v2file, 'utf8'))).toEqual([]);
    const files = await lading(['sbom', 'diff', join(dir, 'out.cyclonedx.json'), v2file, '--json'], env);
    expect(files.code, files.stderr).toBe(0);
    expect(files.json<{ added: { name: string }[]; removed: unknown[]; changed: unknown[] }>()).toMatchObject({ added: [{ name: 'zlib1g' }], removed: [], changed: [] });
  });
});
