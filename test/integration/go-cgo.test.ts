import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** The ELF program interpreter (PT_INTERP) of a 64-bit little-endian binary, or undefined for a static one. */
function elfInterpreter(file: string): string | undefined {
  const b = readFileSync(file);
  expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  expect(b[4]).toBe(2); // ELFCLASS64
  expect(b[5]).toBe(1); // little-endian
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize;
    if (b.readUInt32LE(h) !== 3) continue; // PT_INTERP
    const offset = Number(b.readBigUInt64LE(h + 8));
    const size = Number(b.readBigUInt64LE(h + 32));
    return b.subarray(offset, offset + size).toString('latin1').replace(/\0+$/, '');
  }
  return undefined;
}

/**
 * A cgo build with no builder and no run image (issue 6): `-e CGO_ENABLED=1` makes the Go buildpack label
 * `io.lading.run-image = "base"`, the default builder exports onto run-base (glibc), and the dynamically
 * linked binary runs there. In host mode the C compiler is the build machine's gcc.
 */
describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'umoci', 'runc', 'gcc'))('lading build -e CGO_ENABLED=1: a cgo Go app on run-base', () => {
  let dir: string;
  const env = () => ({ LADING_HOME: join(dir, 'home'), SOURCE_DATE_EPOCH: undefined });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lading-go-cgo-'));
    if (existsSync(DEB_CACHE)) cpSync(DEB_CACHE, join(dir, 'home', 'cache', 'debs'), { recursive: true });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exports onto run-base, links against glibc and serves as uid 1000', async () => {
    const out = join(dir, 'layout');
    const r = await lading(['build', `oci:${out}:app`, '-p', join(ROOT, 'test/fixtures/apps/go-cgo'), '-e', 'CGO_ENABLED=1', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<BuildJson>().runImage.image).toBe('lading/stacks/bookworm/run-base:latest');
    const c = await runImage(out, 'app');
    try {
      const answer = await c.fetch('/');
      expect(answer).toContain('hello from go-cgo');
      expect(answer).toContain('uid=1000 gid=1000');
      expect(answer).toContain('libc-pid-matches=true');
      const binary = join(c.bundle, 'rootfs', 'layers', 'lading_go', 'targets', 'bin', 'go-cgo');
      const interpreter = elfInterpreter(binary);
      expect(interpreter).toMatch(/\/ld-linux[\w.-]*\.so\.\d$/);
      expect(existsSync(join(c.bundle, 'rootfs', 'bin', 'sh'))).toBe(false);
    } finally {
      await c.stop();
    }
  });
});
