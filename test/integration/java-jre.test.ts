import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';
import { nodeRunImage } from './node-stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APPS = join(ROOT, 'test/fixtures/apps');

/**
 * Issue 8, BP_JVM_JLINK_ENABLED=false: the runtime is Debian's JRE package and the part of its Depends closure
 * the run image lacks (the jlink'd runtime is the default; java.test.ts). The image must start under runc.
 */
describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'umoci', 'runc', 'javac', 'jar'))('Java buildpack: the JRE package instead of jlink', () => {
  let dir: string;
  let runBase: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-java-jre-'));
    runBase = await nodeRunImage();
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('BP_JVM_JLINK_ENABLED=false: runs on openjdk-17-jre-headless from apt with the JDK\'s CA store, as uid 1000, no javac', async () => {
    const classes = join(dir, 'classes');
    const app = join(dir, 'app');
    mkdirSync(app);
    const sources = readdirSync(join(APPS, 'java-jar', 'src'), { recursive: true, withFileTypes: true }).filter((e) => e.name.endsWith('.java')).map((e) => join(e.parentPath, e.name));
    execFileSync('javac', ['--release', '17', '-d', classes, ...sources]);
    execFileSync('jar', ['--create', '--file', join(app, 'java-jar.jar'), '--main-class', 'com.example.jar.App', '-C', classes, '.']);
    const out = join(dir, 'layout');
    const r = await lading(['build', `oci:${out}:app`, '-p', app, '-b', join(ROOT, 'buildpacks/java'), '--run-image', runBase, '--cache-dir', join(dir, 'cache'), '-e', 'BP_JVM_JLINK_ENABLED=false'], { LADING_HOME: join(dir, 'home') });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toContain("The JRE from Debian's packages (BP_JVM_JLINK_ENABLED=false)");
    const c = await runImage(out, 'app');
    try {
      const answer = await c.fetch('/');
      expect(answer).toContain('hello from java-jar');
      expect(answer).toContain('uid=1000');
      expect(answer).toMatch(/java\.home=\/layers\/lading_java\/jre\/usr\/lib\/jvm\/java-17-openjdk-\w+/);
      expect(c.config.process.args[0]).toMatch(/^\/layers\/lading_java\/jre\/usr\/lib\/jvm\/java-17-openjdk-\w+\/bin\/java$/);
      const rootfs = join(c.bundle, 'rootfs');
      const home = join(rootfs, c.config.process.args[0]!.replace(/\/bin\/java$/, ''));
      const cacerts = lstatSync(join(home, 'lib/security/cacerts'));
      expect(cacerts.isFile()).toBe(true);
      expect(cacerts.size).toBeGreaterThan(10_000);
      expect(readdirSync(rootfs, { recursive: true }).filter((p) => String(p).endsWith('/javac'))).toEqual([]);
    } finally {
      await c.stop();
    }
  }, 400_000);
});
