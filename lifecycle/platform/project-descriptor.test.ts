import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProjectDescriptor, readProjectDescriptor } from './project-descriptor.js';

const FILE = '/app/project.toml';

describe('project-descriptor.md: schema 0.2', () => {
  it('reads [_], [io.buildpacks] builder/include, groups, pre/post and build env', () => {
    const p = parseProjectDescriptor(
      `
[_]
schema-version = "0.2"
id = "io.buildpacks.my-app"
name = "My App"
version = "0.1"
authors = ["a@example.com"]
source-url = "https://example.com/src"
[[_.licenses]]
type = "MIT"
[_.metadata]
cdn = "https://cdn.example.com"

[io.buildpacks]
builder = "example/builder"
include = ["cmd/", "*.go"]

[[io.buildpacks.group]]
id = "io.buildpacks/java"
version = "1.0"

[[io.buildpacks.group]]
uri = "./local-bp"

[[io.buildpacks.group]]
id = "example/post-build"
  [io.buildpacks.group.script]
  api = "0.10"
  inline = "./post-build.sh"

[[io.buildpacks.pre.group]]
id = "example/pre"

[[io.buildpacks.post.group]]
id = "example/post"
version = "2.0.0"

[[io.buildpacks.build.env]]
name = "JAVA_OPTS"
value = "-Xmx1g"
`,
      FILE,
    );
    expect(p).toEqual({
      schemaVersion: '0.2',
      id: 'io.buildpacks.my-app',
      name: 'My App',
      version: '0.1',
      authors: ['a@example.com'],
      sourceUrl: 'https://example.com/src',
      licenses: [{ type: 'MIT' }],
      metadata: { cdn: 'https://cdn.example.com' },
      builder: 'example/builder',
      include: ['cmd/', '*.go'],
      group: [
        { id: 'io.buildpacks/java', version: '1.0' },
        { uri: './local-bp' },
        { id: 'example/post-build', script: { api: '0.10', shell: '/bin/sh', inline: './post-build.sh' } },
      ],
      pre: [{ id: 'example/pre' }],
      post: [{ id: 'example/post', version: '2.0.0' }],
      buildEnv: [{ name: 'JAVA_OPTS', value: '-Xmx1g' }],
    });
  });

  it('refuses include together with exclude', () => {
    expect(() => parseProjectDescriptor('[_]\nschema-version = "0.2"\n[io.buildpacks]\ninclude = ["a"]\nexclude = ["b"]\n', FILE)).toThrow(
      expect.objectContaining({ code: 'CONTENT_INVALID', message: `${FILE}: io.buildpacks.include and io.buildpacks.exclude cannot both be set` }),
    );
  });

  it('refuses a group entry that combines version, uri or script, or names nothing', () => {
    const withGroup = (body: string) => `[_]\nschema-version = "0.2"\n[[io.buildpacks.group]]\n${body}`;
    expect(() => parseProjectDescriptor(withGroup('id = "a"\nversion = "1.0.0"\nuri = "./a"\n'), FILE)).toThrow(
      `${FILE}: io.buildpacks.group[0] sets version and uri; use only one of version, uri and script`,
    );
    expect(() => parseProjectDescriptor(withGroup('version = "1.0.0"\n'), FILE)).toThrow(`${FILE}: io.buildpacks.group[0] needs an id or a uri`);
    expect(() => parseProjectDescriptor(withGroup('id = "a"\n[io.buildpacks.group.script]\napi = "0.10"\n'), FILE)).toThrow(
      `${FILE}: io.buildpacks.group[0].script.inline is required`,
    );
  });

  it('refuses an unknown schema version and names the line of a syntax error', () => {
    expect(() => parseProjectDescriptor('[_]\nschema-version = "0.9"\n', FILE)).toThrow(`${FILE}: _.schema-version "0.9" is not supported (supported: 0.1, 0.2)`);
    expect(() => parseProjectDescriptor('[_]\nschema-version = "0.2"\n[io.buildpacks\n', FILE)).toThrow(/^\/app\/project\.toml:3: invalid TOML/);
    expect(() => parseProjectDescriptor('[[io.buildpacks.build.env]]\nvalue = "x"\n[_]\nschema-version = "0.2"\n', FILE)).toThrow(
      `${FILE}: io.buildpacks.build.env[0].name is required`,
    );
  });
});

describe('project-descriptor.md: schema 0.1 as pack reads it', () => {
  it('reads [project], [build] exclude/builder, [[build.buildpacks]] and [[build.env]]', () => {
    const p = parseProjectDescriptor(
      `
[project]
id = "sample"
name = "Sample"
version = "1.0.0"

[build]
exclude = ["README.md", "*.log"]

[[build.buildpacks]]
id = "samples/bash-script"
  [build.buildpacks.script]
  api = "0.10"
  shell = "/bin/bash"
  inline = "echo hi"

[[build.env]]
name = "BP_GREETING"
value = "hello"

[metadata]
team = "x"
`,
      FILE,
    );
    expect(p).toMatchObject({
      schemaVersion: '0.1',
      id: 'sample',
      name: 'Sample',
      version: '1.0.0',
      exclude: ['README.md', '*.log'],
      group: [{ id: 'samples/bash-script', script: { api: '0.10', shell: '/bin/bash', inline: 'echo hi' } }],
      pre: [],
      post: [],
      buildEnv: [{ name: 'BP_GREETING', value: 'hello' }],
      metadata: { team: 'x' },
    });
  });

  it('a file without schema-version is 0.1; an explicit "0.1" is too', () => {
    expect(parseProjectDescriptor('', FILE).schemaVersion).toBe('0.1');
    expect(parseProjectDescriptor('[_]\nschema-version = "0.1"\n[build]\nbuilder = "b"\n', FILE)).toMatchObject({ schemaVersion: '0.1', builder: 'b' });
  });
});

describe('project-descriptor.md: reading project.toml from the app', () => {
  it('gives undefined when the app has none, and fails when an explicit descriptor is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-project-'));
    try {
      expect(await readProjectDescriptor(dir)).toBeUndefined();
      await writeFile(join(dir, 'project.toml'), '[_]\nschema-version = "0.2"\nname = "x"\n');
      expect((await readProjectDescriptor(dir))?.name).toBe('x');
      await expect(readProjectDescriptor(dir, join(dir, 'other.toml'))).rejects.toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
