import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryComponents, golangPurl, licenseFromText, parseBuildInfo } from './modules-sbom.js';

const OUTPUT = [
  '/layers/lading_go/targets/bin/svc: go1.19.8',
  '\tpath\texample.com/svc',
  '\tmod\texample.com/svc\t(devel)\t',
  '\tdep\texample.com/greeting\tv1.2.0\t',
  '\tdep\tgithub.com/Foo/bar\tv0.3.1\th1:abc=',
  '\t=>\tgithub.com/fork/bar\tv0.3.2\th1:def=',
  '\tbuild\t-trimpath=true',
  '\tbuild\tCGO_ENABLED=0',
].join('\n');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('binary SBOM', () => {
  it('parses go version -m', () => {
    const info = parseBuildInfo(OUTPUT);
    expect(info.goVersion).toBe('go1.19.8');
    expect(info.main).toEqual({ path: 'example.com/svc', version: '(devel)' });
    expect(info.deps[1]).toEqual({ path: 'github.com/Foo/bar', version: 'v0.3.1', sum: 'h1:abc=', replacedBy: { path: 'github.com/fork/bar', version: 'v0.3.2' } });
    expect(info.settings).toEqual({ '-trimpath': 'true', CGO_ENABLED: '0' });
  });

  it('components: stdlib, main module and deps with golang purls; licences from vendor/ or the module cache', async () => {
    const app = mkdtempSync(join(tmpdir(), 'go-sbom-'));
    dirs.push(app);
    mkdirSync(join(app, 'vendor/example.com/greeting'), { recursive: true });
    writeFileSync(join(app, 'vendor/example.com/greeting/LICENSE'), 'Permission is hereby granted, free of charge, to any person obtaining a copy of this software... THE SOFTWARE IS PROVIDED "AS IS"');
    const cache = join(app, 'modcache');
    mkdirSync(join(cache, 'github.com/fork/bar@v0.3.2'), { recursive: true });
    writeFileSync(join(cache, 'github.com/fork/bar@v0.3.2/LICENSE.txt'), 'Apache License\nVersion 2.0, January 2004\nTERMS AND CONDITIONS FOR USE');
    const cs = await binaryComponents([parseBuildInfo(OUTPUT)], app, cache);
    expect(cs.map((c) => [c.name, c.version, c.purl, c.licenses])).toEqual([
      ['stdlib', 'go1.19.8', 'pkg:golang/stdlib@1.19.8', ['BSD-3-Clause']],
      ['example.com/svc', '(devel)', 'pkg:golang/example.com/svc', undefined],
      ['example.com/greeting', 'v1.2.0', 'pkg:golang/example.com/greeting@v1.2.0', ['MIT']],
      ['github.com/Foo/bar', 'v0.3.1', 'pkg:golang/github.com/Foo/bar@v0.3.1', ['Apache-2.0']],
    ]);
  });

  it('never guesses a licence', () => {
    expect(licenseFromText('All rights reserved. Ask us.')).toBeUndefined();
    expect(licenseFromText('Redistribution and use in source and binary forms ... Neither the name of Google')).toBe('BSD-3-Clause');
    expect(golangPurl('example.com/a b', 'v1.0.0')).toBe('pkg:golang/example.com/a%20b@v1.0.0');
  });
});
