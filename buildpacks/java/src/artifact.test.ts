import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../../../test/support/tools.js';
import { inspectJar, parseLayersIndex, placeArtifact } from './artifact.js';
import { jarComponents, nameFromJarFile, pomLicenses } from './libraries-sbom.js';
import { parseManifest } from './manifest.js';
import { ZipArchive } from './zip.js';

/** zip writes the test's archives (stored and deflated members); under CI a missing zip fails (requireTools). */
const hasZip = requireTools('zip');

describe('JAR reading', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'java-jar-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses a manifest main section with continuation lines', () => {
    const m = parseManifest('Manifest-Version: 1.0\r\nMain-Class: com.example.VeryLong\r\n Name\r\nClass-Path: lib/a.jar\r\n  lib/b.jar\r\n\r\nName: x\r\nMain-Class: ignored\r\n');
    expect(m.get('Main-Class')).toBe('com.example.VeryLongName');
    expect(m.get('Class-Path')).toBe('lib/a.jar lib/b.jar');
  });

  it('parses BOOT-INF/layers.idx', () => {
    expect(parseLayersIndex('- "dependencies":\n  - "BOOT-INF/lib/"\n- "snapshot-dependencies":\n- "application":\n  - "BOOT-INF/classes/"\n  - "META-INF/"\n')).toEqual([
      { name: 'dependencies', paths: ['BOOT-INF/lib/'] },
      { name: 'snapshot-dependencies', paths: [] },
      { name: 'application', paths: ['BOOT-INF/classes/', 'META-INF/'] },
    ]);
  });

  it.skipIf(!hasZip)('reads stored and deflated members of a zip, and the manifest, pom.properties and licences of a JAR', async () => {
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'META-INF/maven/org.example/lib'), { recursive: true });
    writeFileSync(join(tree, 'META-INF/MANIFEST.MF'), 'Manifest-Version: 1.0\nMain-Class: org.example.Main\n\n');
    writeFileSync(join(tree, 'META-INF/maven/org.example/lib/pom.properties'), '#Generated\ngroupId=org.example\nartifactId=lib\nversion=2.1.0\n');
    writeFileSync(join(tree, 'META-INF/maven/org.example/lib/pom.xml'), '<project><licenses><license><name>Apache License, Version 2.0</name></license></licenses></project>');
    writeFileSync(join(tree, 'big.txt'), 'x'.repeat(10_000));
    execFileSync('zip', ['-qr', '-X', join(dir, 'lib-2.1.0.jar'), 'META-INF', 'big.txt'], { cwd: tree });
    execFileSync('zip', ['-q0r', '-X', join(dir, 'stored.jar'), 'META-INF'], { cwd: tree });
    const zip = await ZipArchive.open(join(dir, 'lib-2.1.0.jar'));
    expect(zip.entries.get('big.txt')?.method).toBe(8);
    expect(zip.read('big.txt')?.toString()).toBe('x'.repeat(10_000));
    expect((await ZipArchive.open(join(dir, 'stored.jar'))).read('META-INF/MANIFEST.MF')?.toString()).toContain('Main-Class: org.example.Main');
    expect((await inspectJar(join(dir, 'lib-2.1.0.jar'))).manifest.get('Main-Class')).toBe('org.example.Main');
    expect(await jarComponents(join(dir, 'lib-2.1.0.jar'))).toEqual([
      { name: 'org.example:lib', version: '2.1.0', type: 'library', purl: 'pkg:maven/org.example/lib@2.1.0', licenses: ['Apache License, Version 2.0'] },
    ]);
  });

  it.skipIf(!hasZip)('a JAR without Main-Class, a WAR and a non-zip are refused with the file named', async () => {
    const tree = join(dir, 'plain');
    mkdirSync(join(tree, 'META-INF'), { recursive: true });
    writeFileSync(join(tree, 'META-INF/MANIFEST.MF'), 'Manifest-Version: 1.0\n');
    execFileSync('zip', ['-qr', join(dir, 'plain.jar'), 'META-INF'], { cwd: tree });
    await expect(inspectJar(join(dir, 'plain.jar'))).rejects.toThrow(/plain\.jar has no Main-Class in META-INF\/MANIFEST\.MF/);
    mkdirSync(join(tree, 'WEB-INF'));
    writeFileSync(join(tree, 'WEB-INF/web.xml'), '<web-app/>');
    execFileSync('zip', ['-qr', join(dir, 'app.war'), 'META-INF', 'WEB-INF'], { cwd: tree });
    await expect(inspectJar(join(dir, 'app.war'))).rejects.toThrow(/app\.war is a WAR: running it needs a servlet container/);
    writeFileSync(join(dir, 'not.jar'), 'hello');
    await expect(inspectJar(join(dir, 'not.jar'))).rejects.toThrow(/not\.jar: not a readable JAR\/ZIP file/);
  });

  it.skipIf(!hasZip)('places an executable JAR with its Class-Path files; explodes a layered JAR into slices', async () => {
    const src = join(dir, 'cp');
    mkdirSync(join(src, 'lib'), { recursive: true });
    writeFileSync(join(src, 'lib', 'dep-1.0.jar'), 'not read here');
    mkdirSync(join(src, 'META-INF'));
    writeFileSync(join(src, 'META-INF', 'MANIFEST.MF'), 'Manifest-Version: 1.0\nMain-Class: a.Main\nClass-Path: lib/dep-1.0.jar\n\n');
    execFileSync('zip', ['-qr', join(src, 'app.jar'), 'META-INF'], { cwd: src });
    const app = join(dir, 'app1');
    mkdirSync(app);
    const launch = await placeArtifact(join(src, 'app.jar'), await inspectJar(join(src, 'app.jar')), app, '/workspace');
    expect(launch).toEqual({ kind: 'executable-jar', args: ['-jar', '/workspace/app.jar'], scan: [join(app, 'app.jar'), join(app, 'lib', 'dep-1.0.jar')], slices: [] });

    const boot = join(dir, 'boot');
    mkdirSync(join(boot, 'BOOT-INF/classes/a'), { recursive: true });
    mkdirSync(join(boot, 'BOOT-INF/lib'), { recursive: true });
    mkdirSync(join(boot, 'META-INF'), { recursive: true });
    writeFileSync(join(boot, 'BOOT-INF/classes/a/Main.class'), 'classes');
    writeFileSync(join(boot, 'BOOT-INF/lib/dep-1.0.jar'), 'jar');
    writeFileSync(join(boot, 'BOOT-INF/layers.idx'), '- "dependencies":\n  - "BOOT-INF/lib/"\n- "spring-boot-loader":\n  - "org/"\n- "snapshot-dependencies":\n- "application":\n  - "BOOT-INF/classes/"\n');
    writeFileSync(join(boot, 'META-INF/MANIFEST.MF'), 'Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.JarLauncher\nStart-Class: a.Main\n\n');
    execFileSync('zip', ['-qr', join(dir, 'boot.jar'), 'BOOT-INF', 'META-INF'], { cwd: boot });
    const app2 = join(dir, 'app2');
    mkdirSync(app2);
    const layered = await placeArtifact(join(dir, 'boot.jar'), await inspectJar(join(dir, 'boot.jar')), app2, '/workspace');
    expect(layered.args).toEqual(['-cp', '/workspace/BOOT-INF/classes:/workspace/BOOT-INF/lib/*', 'a.Main']);
    expect(layered.slices).toEqual([{ paths: ['BOOT-INF/lib'] }, { paths: ['org'] }]);
    expect(readFileSync(join(app2, 'BOOT-INF/classes/a/Main.class'), 'utf8')).toBe('classes');
  });

  it('names JARs without Maven metadata from the file name; reads licence names from a pom', () => {
    expect(nameFromJarFile('/x/commons-lang3-3.12.0.jar')).toEqual({ name: 'commons-lang3', version: '3.12.0' });
    expect(nameFromJarFile('tool.jar')).toEqual({ name: 'tool', version: '' });
    expect(pomLicenses('<licenses><license><name>MIT</name><url>u</url></license><license><name>EPL-2.0</name></license></licenses>')).toEqual(['MIT', 'EPL-2.0']);
  });
});
