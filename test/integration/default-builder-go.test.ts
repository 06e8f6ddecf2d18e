import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lading } from '../support/cli.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** Shared with the stack, rebase and default-builder tests: .debs are content-addressed and re-verified. */
const DEB_CACHE = join(tmpdir(), 'lading-test-debs');

interface BuildJson { digest: string; runImage: { image: string } }

/**
 * The main job with nothing but lading: `lading build IMAGE -p go-http`, no builder, no buildpacks, no run
 * image. The default builder detects Go, the stack is built on first use, the static binary lands on
 * run-static, and the image runs (issue 4: "works on a fresh machine with nothing else"; issue 6: run-static).
 */
describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'umoci', 'runc'))('lading build with no flags: the default builder on a Go app', () => {
  let dir: string;
  const env = () => ({ LADING_HOME: join(dir, 'home'), SOURCE_DATE_EPOCH: undefined });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lading-default-go-'));
    if (existsSync(DEB_CACHE)) cpSync(DEB_CACHE, join(dir, 'home', 'cache', 'debs'), { recursive: true });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('detects Go, exports onto run-static (no shell, no libc) and serves as uid 1000', async () => {
    const out = join(dir, 'layout');
    const r = await lading(['build', `oci:${out}:app`, '-p', join(ROOT, 'test/fixtures/apps/go-http'), '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<BuildJson>().runImage.image).toBe('lading/stacks/bookworm/run-static:latest');
    expect(r.stderr).toMatch(/^Go \d/m);
    const c = await runImage(out, 'app');
    try {
      const answer = await c.fetch('/');
      expect(answer).toContain('hello from go-http');
      expect(answer).toContain('uid=1000 gid=1000 cwd=/workspace');
      expect(existsSync(join(c.bundle, 'rootfs', 'bin', 'sh'))).toBe(false);
      expect(existsSync(join(c.bundle, 'rootfs', 'etc', 'ssl', 'certs', 'ca-certificates.crt'))).toBe(true);
    } finally {
      await c.stop();
    }
  });
});
