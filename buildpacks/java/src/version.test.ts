import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { javaConstraint, jvmVersionRequest, pomJavaVersion } from './version.js';

describe('Java version requests', () => {
  it('turns the ways users write Java versions into constraints', () => {
    expect(javaConstraint('17')).toBe('17.x');
    expect(javaConstraint('1.8')).toBe('8.x');
    expect(javaConstraint('17.0.2-tem')).toBe('17.0.2');
    expect(javaConstraint('21.0.1')).toBe('21.0.1');
  });

  it('reads maven.compiler.release, then target, from pom.xml properties; ignores ${...} values', () => {
    expect(pomJavaVersion('<project><properties><maven.compiler.release>21</maven.compiler.release></properties></project>')).toEqual({ value: '21', key: 'maven.compiler.release' });
    expect(pomJavaVersion('<properties><maven.compiler.target>1.8</maven.compiler.target></properties>')).toEqual({ value: '1.8', key: 'maven.compiler.target' });
    expect(pomJavaVersion('<properties><maven.compiler.release>${java.version}</maven.compiler.release><java.version>17</java.version></properties>')).toEqual({ value: '17', key: 'java.version' });
    expect(pomJavaVersion('<project/>')).toBeUndefined();
  });

  it('BP_JVM_VERSION > .java-version > .sdkmanrc > pom.xml > default', async () => {
    const d = mkdtempSync(join(tmpdir(), 'java-version-'));
    try {
      expect(await jvmVersionRequest(d, undefined, '17')).toEqual({ constraint: '17.x', source: 'buildpack default' });
      writeFileSync(join(d, 'pom.xml'), '<properties><maven.compiler.release>11</maven.compiler.release></properties>');
      expect((await jvmVersionRequest(d, undefined, '17')).source).toBe('pom.xml maven.compiler.release 11');
      writeFileSync(join(d, '.sdkmanrc'), '# sdkman\njava=21.0.2-tem\n');
      expect(await jvmVersionRequest(d, undefined, '17')).toEqual({ constraint: '21.0.2', source: '.sdkmanrc java=21.0.2-tem' });
      writeFileSync(join(d, '.java-version'), '17\n');
      expect((await jvmVersionRequest(d, undefined, '17')).source).toBe('.java-version 17');
      expect(await jvmVersionRequest(d, '21', '17')).toEqual({ constraint: '21.x', source: 'BP_JVM_VERSION 21' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
