import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { runImage } from '../support/run-image.js';
import { requireTools } from '../support/tools.js';
import { nodeRunImage } from './node-stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * Issue 8, Gradle: no Gradle distribution is reachable where these tests run, so the fixture's ./gradlew is a
 * stand-in script. What is tested is the buildpack's side: detection by build.gradle, the wrapper invoked with
 * BP_GRADLE_BUILD_ARGUMENTS, JAVA_HOME from the JDK layer and GRADLE_USER_HOME in a cache layer, and the JAR it
 * leaves in build/libs run on the jlink'd runtime.
 */
describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'umoci', 'runc'))('Java buildpack: Gradle through ./gradlew (a stand-in wrapper script)', () => {
  let dir: string;
  let runBase: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lading-java-gradle-'));
    runBase = await nodeRunImage();
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stand-in ./gradlew gets the arguments, JAVA_HOME and GRADLE_USER_HOME; its JAR runs as uid 1000', async () => {
    const app = join(dir, 'app');
    cpSync(join(ROOT, 'test/fixtures/apps/java-gradle-wrapper'), app, { recursive: true });
    const out = join(dir, 'layout');
    const r = await lading(['build', `oci:${out}:app`, '-p', app, '-b', join(ROOT, 'buildpacks/java'), '--run-image', runBase, '--cache-dir', join(dir, 'cache'), '-e', 'BP_GRADLE_BUILD_ARGUMENTS=--no-daemon assemble', '--json'], {
      LADING_HOME: join(dir, 'home'),
    });
    const log = r.stderr;
    expect(r.code, log).toBe(0);
    expect(log).toContain('./gradlew --no-daemon assemble');
    expect(log).toMatch(/JAVA_HOME=\/layers\/lading_java\/jdk\/usr\/lib\/jvm\/java-17-openjdk-\w+/);
    expect(log).toContain('GRADLE_USER_HOME=/layers/lading_java/gradle-home');
    const c = await runImage(out, 'app');
    try {
      expect(await c.fetch('/')).toContain('hello from java-gradle-wrapper');
      expect(c.config.process.user).toMatchObject({ uid: 1000, gid: 1000 });
      expect(c.config.process.args).toEqual(['/layers/lading_java/jre/bin/java', '-jar', '/workspace/java-gradle-wrapper.jar']);
    } finally {
      await c.stop();
    }
  }, 300_000);
});
