import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeImage } from '../../registry/image/index.js';
import { createLayer } from '../../registry/layers/index.js';
import { openLayoutSink } from '../../registry/layout/index.js';
import { appendLayers, emptyImage, withConfig } from '../../registry/mutate/index.js';

/** The tag of the run image inside the layout runBase() returns. */
export const RUN_BASE_TAG = 'run';

/** Tools busybox provides at /bin for test processes and `/cnb/process/<type>` scripts. */
const APPLETS = ['sh', 'cat', 'echo', 'env', 'id', 'ls', 'printenv', 'pwd', 'sleep', 'test', 'true', 'false', 'mkdir', 'wc'];

export interface RunBase {
  /** An OCI layout holding the image under RUN_BASE_TAG. */
  layout: string;
  /** `oci:<layout>:run`, for --run-image. */
  reference: string;
}

let made: RunBase | undefined;

/**
 * A small run image with `/bin/sh`: Debian's busybox-static (fetched with `apt-get download`, using this
 * machine's apt configuration), `/etc/passwd` and `/etc/group` with the uid 1000 `cnb` user, `/tmp` 1777,
 * the stack labels. Built with lading's own layer writer into an OCI layout under the OS temp dir, keyed by
 * the package version, so a test run builds it once. Needs `apt-get` and `dpkg-deb` (requireTools).
 */
export async function runBase(): Promise<RunBase> {
  if (made) return made;
  const version = candidateVersion('busybox-static');
  const layout = join(tmpdir(), `lading-run-base-${version.replace(/[^A-Za-z0-9.+-]/g, '_')}`);
  if (!existsSync(join(layout, 'index.json'))) await buildRunBase(layout);
  made = { layout, reference: `oci:${layout}:${RUN_BASE_TAG}` };
  return made;
}

function candidateVersion(pkg: string): string {
  const out = execFileSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  const m = /Candidate:\s*(\S+)/.exec(out);
  if (!m || m[1] === '(none)') throw new Error(`apt has no candidate for ${pkg}; run apt-get update`);
  return m[1]!;
}

async function buildRunBase(layout: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'lading-run-base-build-'));
  try {
    execFileSync('apt-get', ['download', 'busybox-static'], { cwd: work, stdio: 'pipe' });
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download busybox-static left no .deb');
    const rootfs = join(work, 'rootfs');
    execFileSync('dpkg-deb', ['-x', join(work, deb), rootfs], { stdio: 'pipe' });
    rmSync(join(rootfs, 'usr', 'share'), { recursive: true, force: true });
    const root = { uid: 0, gid: 0 };
    const layer = await createLayer(
      {
        directories: [{ source: rootfs, target: '/', ...root }],
        entries: [
          ...APPLETS.map((a) => ({ type: 'symlink' as const, path: `/bin/${a}`, target: 'busybox', ...root })),
          { type: 'dir', path: '/etc', mode: 0o755, ...root },
          { type: 'file', path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n', ...root },
          { type: 'file', path: '/etc/group', content: 'root:x:0:\ncnb:x:1000:\n', ...root },
          { type: 'dir', path: '/home/cnb', mode: 0o755, uid: 1000, gid: 1000 },
          { type: 'dir', path: '/tmp', mode: 0o1777, ...root },
        ],
      },
      { uid: 0, gid: 0, parentUid: 0, parentGid: 0, tempDir: work },
    );
    let image = appendLayers(emptyImage({ os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch }), { layer, history: { created_by: 'busybox-static run base (tests)' } });
    image = withConfig(image, {
      env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'CNB_USER_ID=1000', 'CNB_GROUP_ID=1000'],
      user: '1000:1000',
      labels: {
        'io.buildpacks.base.distro.name': 'debian',
        'io.buildpacks.base.distro.version': '12',
        'io.buildpacks.base.id': 'lading.test.busybox',
        'io.buildpacks.rebasable': 'true',
      },
    });
    const staging = join(work, 'layout');
    const sink = await openLayoutSink({ transport: 'oci', path: staging, tag: RUN_BASE_TAG });
    await writeImage(sink, image);
    await sink.commit();
    await layer.dispose();
    try {
      renameSync(staging, layout);
    } catch (err) {
      // Another test file built it at the same time: theirs is the same image.
      if (!existsSync(join(layout, 'index.json'))) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
