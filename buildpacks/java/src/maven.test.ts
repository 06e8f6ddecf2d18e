import { shellWords } from '../../lib/index.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtArtifact, fileGlob, mavenArguments, settingsLocalRepository } from './maven.js';

describe('Maven invocation', () => {
  it('default arguments, additional ones, profiles, settings and the cache repository', () => {
    expect(mavenArguments({})).toEqual(['-Dmaven.test.skip=true', '--batch-mode', 'package']);
    expect(mavenArguments({ additional: '-Dx="a b"', profiles: 'prod, cloud', settings: '/b/settings.xml', localRepository: '/layers/m2/repository' })).toEqual([
      '-Dmaven.test.skip=true', '--batch-mode', 'package', '-Dx=a b', '-P', 'prod,cloud', '--settings', '/b/settings.xml', '-Dmaven.repo.local=/layers/m2/repository',
    ]);
    expect(mavenArguments({ build: 'clean verify -Dmaven.repo.local=/mine', localRepository: '/layers/m2/repository' })).toEqual(['clean', 'verify', '-Dmaven.repo.local=/mine']);
  });

  it('splits arguments like a shell and refuses an unterminated quote', () => {
    expect(shellWords(`a 'b c' "d \\"e\\"" f\\ g ''`, 'X')).toEqual(['a', 'b c', 'd "e"', 'f g', '']);
    expect(() => shellWords('a "b', 'BP_MAVEN_BUILD_ARGUMENTS')).toThrow(/BP_MAVEN_BUILD_ARGUMENTS: unterminated " quote/);
  });

  it('reads <localRepository> from settings.xml, not from comments', () => {
    expect(settingsLocalRepository('<settings><localRepository> /usr/share/maven-repo </localRepository></settings>')).toBe('/usr/share/maven-repo');
    expect(settingsLocalRepository('<settings><!-- <localRepository>/x</localRepository> --></settings>')).toBeUndefined();
  });

  it('finds the one built artifact, leaving out sources/javadoc JARs, and says when there are none or several', async () => {
    expect(fileGlob('*.[jw]ar').test('app-1.0.jar')).toBe(true);
    expect(fileGlob('*.[jw]ar').test('app-1.0.ear')).toBe(false);
    const d = mkdtempSync(join(tmpdir(), 'java-artifact-'));
    try {
      await expect(builtArtifact(d, undefined)).rejects.toThrow(/no artifact matching target\/\*\.\[jw\]ar \(BP_MAVEN_BUILT_ARTIFACT\)/);
      mkdirSync(join(d, 'target'));
      writeFileSync(join(d, 'target', 'app-1.0.jar'), '');
      writeFileSync(join(d, 'target', 'app-1.0-sources.jar'), '');
      expect(await builtArtifact(d, undefined)).toBe(join(d, 'target', 'app-1.0.jar'));
      writeFileSync(join(d, 'target', 'other.war'), '');
      await expect(builtArtifact(d, undefined)).rejects.toThrow(/matches 2 files \(app-1\.0\.jar, other\.war\); set BP_MAVEN_BUILT_ARTIFACT/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
