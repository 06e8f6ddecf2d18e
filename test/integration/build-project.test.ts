import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { lading } from '../support/cli.js';
import { runBase, type RunBase } from '../support/run-base.js';
import { requireTools } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BUILDER = join(ROOT, 'test/fixtures/builders/sample');

describe.skipIf(!requireTools('umoci', 'apt-get', 'dpkg-deb'))('project-descriptor.md: pre/post groups and inline buildpacks in lading build', () => {
  let base: RunBase;
  let tmp: string;

  beforeAll(async () => {
    base = await runBase();
    tmp = mkdtempSync(join(tmpdir(), 'lading-project-'));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('runs the pre group first and the post group last in every group of the builder order, inline scripts included', async () => {
    const app = join(tmp, 'app');
    cpSync(join(ROOT, 'test/fixtures/apps/hello'), app, { recursive: true });
    writeFileSync(join(app, 'project.toml'), `[_]
schema-version = "0.2"
id = "pre-post"

[[io.buildpacks.pre.group]]
id = "example/pre"
  [io.buildpacks.pre.group.script]
  api = "0.10"
  inline = "echo pre-ran > pre.txt"

[[io.buildpacks.post.group]]
id = "example/post"
  [io.buildpacks.post.group.script]
  api = "0.11"
  shell = "/bin/bash"
  inline = """
cat pre.txt > post.txt
echo "post-ran after $(ls /layers | grep -c sample_hello) sample/hello layer dir" >> post.txt
"""
`);
    const out = join(tmp, 'layout');
    const r = await lading(['build', `oci:${out}:app`, '-p', app, '-B', BUILDER, '--run-image', base.reference, '--json'], { LADING_HOME: join(tmp, 'home') });
    expect(r.code, r.stderr).toBe(0);
    const bundle = join(tmp, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${out}:app`, bundle], { stdio: 'pipe' });
    expect(readFileSync(join(bundle, 'rootfs', 'workspace', 'post.txt'), 'utf8')).toBe('pre-ran\npost-ran after 1 sample/hello layer dir\n');
    const inspect = await lading(['inspect', `oci:${out}:app`, '--json'], { LADING_HOME: join(tmp, 'home') });
    const build = JSON.parse(inspect.json<{ labels: Record<string, string> }>().labels['io.buildpacks.build.metadata']!);
    const ids = (build.buildpacks as { id: string }[]).map((b) => b.id);
    expect(ids[0]).toBe('example/pre');
    expect(ids.at(-1)).toBe('example/post');
    expect(ids).toContain('sample/hello');
  });
});
