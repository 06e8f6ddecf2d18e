import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { lading } from '../support/cli.js';
import { requireTools } from '../support/tools.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { randomImage } from '../support/random-image.js';
import { imageFromSource, validateImage, writeImage } from '../../registry/image/index.js';
import { openSink, openSource } from '../../registry/open.js';
import { parseReference } from '../../registry/reference.js';
import type { Image } from '../../registry/oci/index.js';

const enabled = requireTools('docker-registry', 'skopeo', 'umoci');

describe.skipIf(!enabled)('lading copy: every direction between every transport', () => {
  let tmp: string;
  let registry: TestRegistry;
  let image: Image;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lading-copy-'));
    env = { LADING_HOME: join(tmp, 'home') };
    registry = await startRegistry({ auth: 'none' });
    image = await randomImage({ layers: 3, layerSize: 64 * 1024, files: { 'etc/hello.txt': 'hello from lading\n' } });
    const sink = await openSink(parseReference(`oci:${join(tmp, 'origin')}:v1`), { env });
    await writeImage(sink, image);
    await sink.commit();
  });

  afterAll(async () => {
    await registry?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const where = (kind: string, tag: string): string => {
    switch (kind) {
      case 'registry': return `docker://${registry.host}/copy/${tag}:v1`;
      case 'oci': return `oci:${join(tmp, `layout-${tag}`)}:v1`;
      case 'oci-archive': return `oci-archive:${join(tmp, `${tag}.oci.tar`)}:v1`;
      case 'docker-archive': return `docker-archive:${join(tmp, `${tag}.docker.tar`)}:copy/${tag}:v1`;
      default: return `${registry.host}/store/${tag}:v1`;
    }
  };
  const kinds = ['registry', 'oci', 'oci-archive', 'docker-archive', 'store'];

  it('round-trips with identical manifest bytes and digests, and validates', async () => {
    for (const from of kinds) {
      const src = where(from, `from-${from}`);
      const seeded = await lading(['copy', `oci:${join(tmp, 'origin')}:v1`, src, '--json'], env);
      expect(seeded.code, seeded.stderr + seeded.stdout).toBe(0);
      for (const to of kinds) {
        if (to === from) continue;
        const dest = where(to, `${from}-to-${to}`);
        const r = await lading(['copy', src, dest, '--json'], env);
        expect(r.code, `${from} → ${to}: ${r.stderr}${r.stdout}`).toBe(0);
        expect(r.json().digest, `${from} → ${to}`).toBe(image.descriptor.digest);
        const source = await openSource(parseReference(dest), { env });
        try {
          const back = await imageFromSource(source, await source.resolve());
          expect(back.rawManifest.equals(image.rawManifest), `${from} → ${to} manifest bytes`).toBe(true);
          await validateImage(back);
        } finally {
          await source.close();
        }
      }
    }
  });

  it('skopeo reads what lading pushed, and lading reads what skopeo wrote (OCI and Docker schema2, gzip and plain)', async () => {
    const pushed = where('registry', 'skopeo');
    expect((await lading(['copy', `oci:${join(tmp, 'origin')}:v1`, pushed], env)).code).toBe(0);
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', pushed]).toString());
    expect(inspected.Digest).toBe(image.descriptor.digest);
    // Docker schema2 as skopeo converts it (into a registry: skopeo 1.9 keeps OCI when writing layouts).
    const v2s2 = where('registry', 'skopeo-v2s2');
    execFileSync('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--format', 'v2s2', pushed, v2s2], { stdio: 'pipe' });
    const v2s2Inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', v2s2]).toString());
    expect(v2s2Inspect.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const v2s2Digest = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', v2s2]).toString()).Digest;
    // Uncompressed layers, as skopeo writes a docker-archive; lading pushes that on and skopeo reads it back.
    const plainTar = join(tmp, 'skopeo-plain.tar');
    execFileSync('skopeo', ['copy', '--src-tls-verify=false', pushed, `docker-archive:${plainTar}:plain/x:y`], { stdio: 'pipe' });
    const plainPushed = where('registry', 'skopeo-plain');
    const viaLading = await lading(['copy', `docker-archive:${plainTar}`, plainPushed, '--json'], env);
    expect(viaLading.code, viaLading.stderr).toBe(0);
    const plainRaw = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', plainPushed]).toString());
    expect(plainRaw.layers[0].mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar');
    const plainDigest = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', plainPushed]).toString()).Digest;
    expect(viaLading.json().digest).toBe(plainDigest);
    const plainConfig = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--config', plainPushed]).toString());
    expect(plainConfig.rootfs.diff_ids).toEqual(image.config.rootfs.diff_ids);
    for (const [name, src, digest] of [['v2s2', v2s2, v2s2Digest], ['plain', plainPushed, plainDigest]] as const) {
      expect(digest).not.toBe(image.descriptor.digest);
      const dest = `oci:${join(tmp, `lading-from-skopeo-${name}`)}:y`;
      const r = await lading(['copy', src, dest, '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().digest).toBe(digest);
      const source = await openSource(parseReference(dest), { env });
      try {
        await validateImage(await imageFromSource(source, await source.resolve()));
      } finally {
        await source.close();
      }
      const inspect = await lading(['inspect', dest, '--json'], env);
      expect(inspect.code, inspect.stderr).toBe(0);
      expect(inspect.json<{ layers: { diffId: string }[] }>().layers.map((l) => l.diffId)).toEqual(image.config.rootfs.diff_ids);
    }
  });

  it('umoci unpacks what lading wrote', async () => {
    const layout = join(tmp, 'umoci-layout');
    expect((await lading(['copy', where('registry', 'from-registry'), `oci:${layout}:v1`], env)).code).toBe(0);
    const bundle = join(tmp, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, bundle], { stdio: 'pipe' });
    expect(readFileSync(join(bundle, 'rootfs', 'etc', 'hello.txt'), 'utf8')).toBe('hello from lading\n');
  });

  it('inspect shows digest, platform, layers with diffIDs, config; images lists the store', async () => {
    const r = await lading(['inspect', where('store', 'from-store'), '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const j = r.json<{ digest: string; platform: string; layers: { diffId: string }[]; env: string[]; referrers: unknown[] }>();
    expect(j.digest).toBe(image.descriptor.digest);
    expect(j.platform).toBe('linux/amd64');
    expect(j.layers.map((l) => l.diffId)).toEqual(image.config.rootfs.diff_ids);
    expect(j.env).toContain('PATH=/usr/local/bin:/usr/bin:/bin');
    const human = await lading(['inspect', where('oci', 'from-oci')], env);
    expect(human.stdout).toContain(`Digest:      ${image.descriptor.digest}`);
    const images = await lading(['images', '--json'], env);
    const names = images.json<{ images: { name: string; digest: string }[] }>().images.map((i) => i.name);
    expect(names).toContain(`${registry.host}/store/from-store:v1`);
  });

  describe('bad input: clear one-line error, documented exit code, nothing written', () => {
    const expectFailure = async (args: string[], code: number, message: RegExp, dest?: string) => {
      const r = await lading(args, env);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      if (dest) expect(existsSync(dest), `${dest} must not exist`).toBe(false);
    };

    it('malformed reference → 3', async () => {
      await expectFailure(['copy', 'docker://UPPER/Case', `oci:${join(tmp, 'nope1')}`], 3, /invalid image reference/, join(tmp, 'nope1'));
    });
    it('unknown transport → 3', async () => {
      await expectFailure(['copy', 'dir:/tmp/x', `oci:${join(tmp, 'nope2')}`], 3, /unknown transport "dir:"/, join(tmp, 'nope2'));
    });
    it('missing layout dir → 4', async () => {
      await expectFailure(['copy', `oci:${join(tmp, 'missing')}:v1`, `oci:${join(tmp, 'nope3')}:v1`], 4, /missing/, join(tmp, 'nope3'));
    });
    it('corrupt index.json → 5', async () => {
      const dir = join(tmp, 'corrupt');
      expect((await lading(['copy', `oci:${join(tmp, 'origin')}:v1`, `oci:${dir}:v1`], env)).code).toBe(0);
      writeFileSync(join(dir, 'index.json'), '{"schemaVersion": 2, "manifests": [');
      await expectFailure(['copy', `oci:${dir}:v1`, `oci:${join(tmp, 'nope4')}:v1`], 5, /index\.json/, join(tmp, 'nope4'));
    });
    it('blob whose content does not match its digest → 5', async () => {
      const dir = join(tmp, 'tampered');
      expect((await lading(['copy', `oci:${join(tmp, 'origin')}:v1`, `oci:${dir}:v1`], env)).code).toBe(0);
      const layer = image.layers[1]!.digest.slice('sha256:'.length);
      writeFileSync(join(dir, 'blobs', 'sha256', layer), 'tampered');
      await expectFailure(['copy', `oci:${dir}:v1`, where('registry', 'tampered')], 5, /does not match|declares/);
      const tags = await fetch(`http://${registry.host}/v2/copy/tampered/tags/list`);
      expect(tags.status).toBe(404);
    });
    it('wrong password → 7, and the password never appears', async () => {
      const secured = await startRegistry({ auth: 'htpasswd' });
      try {
        const dockerConfig = join(tmp, 'docker-config');
        const password = 'Sup3r-Secret-Pa55';
        execFileSync('mkdir', ['-p', dockerConfig]);
        writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`${secured.username}:${password}`).toString('base64') } } }));
        const r = await lading(['copy', `oci:${join(tmp, 'origin')}:v1`, `docker://${secured.host}/x/y:z`], { ...env, DOCKER_CONFIG: dockerConfig });
        expect(r.code, r.stderr).toBe(7);
        expect(r.stderr).toMatch(/401|unauthorized|authenticat/i);
        expect(r.stderr + r.stdout).not.toContain(password);
        expect(r.stderr + r.stdout).not.toContain(Buffer.from(`${secured.username}:${password}`).toString('base64'));
        const ok = await lading(['copy', `oci:${join(tmp, 'origin')}:v1`, `docker://${secured.host}/x/y:z`], {
          ...env, CNB_REGISTRY_AUTH: JSON.stringify({ [secured.host]: `Basic ${Buffer.from(`${secured.username}:${secured.password}`).toString('base64')}` }),
        });
        expect(ok.code, ok.stderr).toBe(0);
      } finally {
        await secured.stop();
      }
    });
    it('unreachable registry → 8', async () => {
      await expectFailure(['copy', `oci:${join(tmp, 'origin')}:v1`, 'docker://127.0.0.1:9/x/y:z'], 8, /127\.0\.0\.1:9/);
    });
    it('manifest of an unknown media type → 6', async () => {
      const dir = join(tmp, 'weird');
      expect((await lading(['copy', `oci:${join(tmp, 'origin')}:v1`, `oci:${dir}:v1`], env)).code).toBe(0);
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
      index.manifests[0].mediaType = 'application/vnd.example.unknown+json';
      writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
      await expectFailure(['copy', `oci:${dir}:v1`, `oci:${join(tmp, 'nope5')}:v1`], 6, /media type "application\/vnd\.example\.unknown\+json"/, join(tmp, 'nope5'));
    });
    it('leaves an existing destination layout untouched when the copy fails', async () => {
      const dest = join(tmp, 'layout-existing');
      expect((await lading(['copy', `oci:${join(tmp, 'origin')}:v1`, `oci:${dest}:v1`], env)).code).toBe(0);
      const before = readFileSync(join(dest, 'index.json'), 'utf8');
      const blobsBefore = readdirSync(join(dest, 'blobs', 'sha256')).sort();
      // A different image whose blobs the destination lacks, with one of them corrupted.
      const other = await randomImage({ layers: 2 });
      const otherDir = join(tmp, 'other-tampered');
      const sink = await openSink(parseReference(`oci:${otherDir}:v1`), { env });
      await writeImage(sink, other);
      await sink.commit();
      writeFileSync(join(otherDir, 'blobs', 'sha256', other.layers[1]!.digest.slice('sha256:'.length)), 'tampered');
      const r = await lading(['copy', `oci:${otherDir}:v1`, `oci:${dest}:v2`], env);
      expect(r.code).toBe(5);
      expect(readFileSync(join(dest, 'index.json'), 'utf8')).toBe(before);
      expect(readdirSync(join(dest, 'blobs', 'sha256')).sort()).toEqual(blobsBefore);
    });
  });
});
