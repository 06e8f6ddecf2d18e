import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lading } from '../support/cli.js';
import { requireTools } from '../support/tools.js';
import { nodeRunImage } from './node-stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const JAVA_BP = join(ROOT, 'buildpacks/java');
const FIXTURE = join(ROOT, 'test/fixtures/apps/java-maven-http');

/** Issue 8: bad input fails with a message that says what is wrong, where, and the documented exit code. */
describe.skipIf(!requireTools('apt-get', 'dpkg-deb', 'javac', 'jar'))('Java buildpack: bad input', () => {
  let runBase: string;
  let cache: string;
  let bindingRoot: string;
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  /** The Maven fixture with some files replaced. */
  const maven = (files: Record<string, string>) => {
    const d = join(temp('lading-java-bad-'), 'app');
    cpSync(FIXTURE, d, { recursive: true });
    for (const [p, c] of Object.entries(files)) writeFileSync(join(d, p), c);
    return d;
  };
  const build = async (dir: string, env: string[] = []) => {
    const r = await lading(['build', `oci:${temp('lading-java-bad-out-')}:app`, '-p', dir, '-b', JAVA_BP, '--run-image', runBase, '--cache-dir', cache, '-e', `SERVICE_BINDING_ROOT=${bindingRoot}`, ...env], {
      LADING_HOME: join(cache, 'home'),
    });
    return { code: r.code, log: r.stderr + r.stdout };
  };

  beforeAll(async () => {
    runBase = await nodeRunImage();
    cache = temp('lading-java-bad-cache-');
    bindingRoot = temp('lading-java-bad-bindings-');
    mkdirSync(join(bindingRoot, 'maven'));
    writeFileSync(join(bindingRoot, 'maven', 'type'), 'maven');
    writeFileSync(join(bindingRoot, 'maven', 'settings.xml'), '<settings><offline>true</offline><localRepository>/usr/share/maven-repo</localRepository></settings>');
  }, 300_000);
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('malformed pom.xml: Maven\'s own message with the file and position, exit 51', async () => {
    const r = await build(maven({ 'pom.xml': readFileSync(join(FIXTURE, 'pom.xml'), 'utf8').replace('</artifactId>', '</artifactid>') }));
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('failed (exit 1)');
    expect(r.log).toMatch(/Non-parseable POM \/workspace\/pom\.xml: .*\[?line \d+/i);
  }, 300_000);

  it('compile error: the compiler\'s message with file and line, exit 51', async () => {
    const r = await build(maven({ 'src/main/java/com/example/http/Greeting.java': 'package com.example.http;\n\nfinal class Greeting {\n  static String text() {\n    return undefinedThing();\n  }\n}\n' }));
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('mvn -Dmaven.test.skip=true --batch-mode package');
    expect(r.log).toMatch(/\/workspace\/src\/main\/java\/com\/example\/http\/Greeting\.java:\[5,12\] cannot find symbol/);
    expect(r.log).toContain('COMPILATION ERROR');
  }, 300_000);

  it('Maven JAR without Main-Class: says so and how to set it, exit 51', async () => {
    const pom = readFileSync(join(FIXTURE, 'pom.xml'), 'utf8').replace(/<archive>[\s\S]*?<\/archive>/, '');
    const r = await build(maven({ 'pom.xml': pom }));
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('java-maven-http-1.0.0.jar has no Main-Class in META-INF/MANIFEST.MF');
    expect(r.log).toContain('<mainClass>');
  }, 300_000);

  it('a directory holding only a JAR without Main-Class: detection says why, exit 20', async () => {
    const work = temp('lading-java-bad-jar-');
    const classes = join(work, 'classes');
    mkdirSync(join(work, 'src'));
    writeFileSync(join(work, 'src', 'Lib.java'), 'public final class Lib {}\n');
    execFileSync('javac', ['--release', '17', '-d', classes, join(work, 'src', 'Lib.java')]);
    const app = join(work, 'app');
    mkdirSync(app);
    execFileSync('jar', ['--create', '--file', join(app, 'lib.jar'), '-C', classes, '.']);
    const r = await build(app);
    expect(r.code, r.log).toBe(20);
    expect(r.log).toContain('lib.jar has no Main-Class in META-INF/MANIFEST.MF');
  });

  it('a Java version apt does not offer: lists the versions there are, exit 51', async () => {
    const r = await build(maven({}), ['-e', 'BP_JVM_VERSION=99']);
    expect(r.code, r.log).toBe(51);
    expect(r.log).toContain('satisfies "99.x" (from BP_JVM_VERSION 99)');
    expect(r.log).toMatch(/apt offers: openjdk-17-jdk-headless 17\.\d+/);
    expect(r.log).toContain('BP_JVM_VERSION');
  });
});
