import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import {
  parseBuildMetadata, parseCacheMetadata, parseLifecycleMetadata, parseProjectMetadata, serializeBuildMetadata,
  serializeCacheMetadata, serializeLifecycleMetadata, serializeProjectMetadata, serializeReport, type LifecycleMetadata,
} from './index.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

const lifecycle: LifecycleMetadata = {
  app: [{ sha: A }],
  sbom: { sha: B },
  buildpacks: [{
    key: 'example/node', version: '1.2.3',
    // layer and data keys deliberately unsorted: Go writes map keys sorted
    layers: { web: { sha: B, data: { z: 1, a: { y: 'x<y', b: true } }, build: false, launch: true, cache: false }, deps: { sha: A, data: {}, build: true, launch: true, cache: true } },
    store: { metadata: { b: 2, a: 1 } },
  }],
  config: { sha: '' },
  launcher: { sha: '' },
  processTypes: { sha: A },
  runImage: { topLayer: A, reference: `reg.example/run@${B}`, image: 'reg.example/run', mirrors: ['m.example/run'] },
  stack: { runImage: { image: 'reg.example/run', mirrors: ['m.example/run'] } },
};

describe('platform.md "io.buildpacks.lifecycle.metadata (JSON)"', () => {
  it('writes the Go lifecycle key names in struct order, map keys sorted, HTML-safe escapes (notes/cnb.md §1.1)', () => {
    expect(serializeLifecycleMetadata(lifecycle)).toBe(
      `{"app":[{"sha":"${A}"}],"sbom":{"sha":"${B}"},"buildpacks":[{"key":"example/node","version":"1.2.3","layers":{` +
        `"deps":{"sha":"${A}","data":{},"build":true,"launch":true,"cache":true},` +
        `"web":{"sha":"${B}","data":{"a":{"b":true,"y":"x\\u003cy"},"z":1},"build":false,"launch":true,"cache":false}},` +
        `"store":{"metadata":{"a":1,"b":2}}}],"config":{"sha":""},"launcher":{"sha":""},"process-types":{"sha":"${A}"},` +
        `"runImage":{"topLayer":"${A}","reference":"reg.example/run@${B}","image":"reg.example/run","mirrors":["m.example/run"]},` +
        `"stack":{"runImage":{"image":"reg.example/run","mirrors":["m.example/run"]}}}`,
    );
  });
  it('omits sbom and stack when absent, as the Go struct tags do', () => {
    const { sbom: _s, stack: _t, ...rest } = lifecycle;
    const text = serializeLifecycleMetadata(rest);
    expect(text).not.toContain('"sbom"');
    expect(text).not.toContain('"stack"');
  });
  it('parses back what it writes', () => {
    const parsed = parseLifecycleMetadata(serializeLifecycleMetadata(lifecycle));
    expect(parsed).toEqual(lifecycle);
  });
  it('reads a label as pack-built images carry it (data null, old single-object app, missing keys)', () => {
    const text = `{"app":{"sha":"${A}"},"config":{"sha":""},"launcher":{"sha":"${B}"},"buildpacks":[{"key":"x","version":"1","layers":{"l":{"sha":"${A}","data":null,"launch":true}}}],"runImage":{"topLayer":"${A}","reference":"r"}}`;
    const m = parseLifecycleMetadata(text, 'ANALYZE');
    expect(m.app).toEqual([{ sha: A }]);
    expect(m.buildpacks[0]!.layers['l']).toEqual({ sha: A, data: {}, build: false, launch: true, cache: false });
    expect(m.processTypes).toEqual({ sha: '' });
  });
  it('fails with the phase code, naming the label and the key', () => {
    expect(() => parseLifecycleMetadata('{', 'ANALYZE')).toThrow(/io\.buildpacks\.lifecycle\.metadata: not valid JSON/);
    expect(() => parseLifecycleMetadata('{"buildpacks":[{"key":"x","layers":{"l":{"launch":"yes"}}}]}', 'ANALYZE')).toThrow(
      expect.objectContaining({ code: 'ANALYZE', message: expect.stringContaining('buildpacks[0].layers.l.launch must be true or false') }),
    );
  });
});

describe('platform.md "io.buildpacks.build.metadata (JSON)"', () => {
  const build = {
    buildpacks: [{ id: 'example/node', version: '1.2.3', homepage: 'https://example.test/node' }, { id: 'example/npm', version: '0.1.0' }],
    launcher: { version: '', source: { git: { repository: '', commit: '' } } },
    processes: [
      { type: 'web', command: ['node'], args: ['server.js'], direct: true, default: true, buildpackID: 'example/node', workingDir: '/workspace' },
      { type: 'worker', command: ['node', 'w.js'], args: [], direct: true, buildpackID: 'example/npm', execEnv: ['production'] },
    ],
    defaultProcessType: 'web',
  };
  it('writes the Go key shapes: no api, omitempty fields dropped, command as an array (Platform ≥0.10)', () => {
    expect(serializeBuildMetadata(build)).toBe(
      '{"buildpacks":[{"id":"example/node","version":"1.2.3","homepage":"https://example.test/node"},{"id":"example/npm","version":"0.1.0"}],' +
        '"launcher":{"version":"","source":{"git":{"repository":"","commit":""}}},' +
        '"processes":[{"type":"web","command":["node"],"args":["server.js"],"direct":true,"default":true,"buildpackID":"example/node","working-dir":"/workspace"},' +
        '{"type":"worker","command":["node","w.js"],"args":[],"direct":true,"buildpackID":"example/npm","exec-env":["production"]}],' +
        '"buildpack-default-process-type":"web"}',
    );
  });
  it('parses back, and reads the pre-0.10 string command', () => {
    expect(parseBuildMetadata(serializeBuildMetadata(build))).toEqual(build);
    const old = parseBuildMetadata('{"buildpacks":[],"processes":[{"type":"web","command":"npm start","args":null,"direct":false,"buildpackID":"x"}]}');
    expect(old.processes[0]).toEqual({ type: 'web', command: ['npm start'], args: [], direct: false, buildpackID: 'x' });
  });
});

describe('platform.md "io.buildpacks.project.metadata (JSON)"', () => {
  it('is the JSON of project-metadata.toml, {} without a source', () => {
    const m = { source: { type: 'git', version: { commit: 'abc' }, metadata: { url: 'https://example.test/r', branch: 'main' } } };
    expect(serializeProjectMetadata(m)).toBe('{"source":{"type":"git","version":{"commit":"abc"},"metadata":{"branch":"main","url":"https://example.test/r"}}}');
    expect(parseProjectMetadata(serializeProjectMetadata(m))).toEqual(m);
    expect(serializeProjectMetadata({})).toBe('{}');
  });
});

describe('notes/cnb.md §1.1 cache image label', () => {
  it('round-trips {"sbom","buildpacks"}', () => {
    const m = { buildpacks: lifecycle.buildpacks };
    expect(serializeCacheMetadata(m).startsWith('{"buildpacks":[{"key":"example/node"')).toBe(true);
    expect(parseCacheMetadata(serializeCacheMetadata(m))).toEqual(m);
  });
});

describe('platform.md "report.toml (TOML)"', () => {
  it('writes [image] tags, digest, manifest-size', () => {
    const text = serializeReport({ image: { tags: ['reg.example/app:latest'], digest: A, manifestSize: 1234 } });
    expect(parse(text)).toEqual({ image: { tags: ['reg.example/app:latest'], digest: A, 'manifest-size': '1234' } });
  });
});
