import { describe, expect, it } from 'vitest';
import { parseBuilderConfig } from '../../platform/index.js';
import type { AnalyzedRunImage } from '../analyzer.js';
import { checkSameTarget, requestedFlavor, runImageSet, RUN_IMAGE_LABEL } from './run-image-choice.js';

const builder = (runToml: string) => parseBuilderConfig(`[run]\n${runToml}`, '/b/builder.toml', '/b');

describe('builder [[run.images]] flavors', () => {
  it('reads flavor = "base" | "static" and picks each image by flavor, whatever the order', () => {
    const c = builder('[[run.images]]\nimage = "s:1"\nflavor = "static"\n[[run.images]]\nimage = "b:1"\nmirrors = ["m/b:1"]\nflavor = "base"\n');
    expect(c.runImages).toEqual([{ image: 's:1', mirrors: [], flavor: 'static' }, { image: 'b:1', mirrors: ['m/b:1'], flavor: 'base' }]);
    expect(runImageSet(c.runImages)).toEqual({ base: c.runImages[1], static: c.runImages[0] });
  });

  it("a pack builder without flavors: the first image is the base and there is no static one", () => {
    const c = builder('[[run.images]]\nimage = "a:1"\n[[run.images]]\nimage = "b:1"\n');
    expect(runImageSet(c.runImages)).toEqual({ base: { image: 'a:1', mirrors: [] } });
  });

  it('without a base entry the first unflavored entry is the base; only a static entry is also the base', () => {
    const c = builder('[[run.images]]\nimage = "s:1"\nflavor = "static"\n[[run.images]]\nimage = "plain:1"\n');
    expect(runImageSet(c.runImages)?.base.image).toBe('plain:1');
    const only = builder('[[run.images]]\nimage = "s:1"\nflavor = "static"\n');
    expect(runImageSet(only.runImages)).toEqual({ base: only.runImages[0] });
    expect(runImageSet([])).toBeUndefined();
  });

  it('an unknown flavor or two entries of one flavor is an error naming the file and key', () => {
    expect(() => builder('[[run.images]]\nimage = "a:1"\nflavor = "tiny"\n')).toThrow(/builder\.toml: run\.images\[0\]\.flavor "tiny" must be one of base, static/);
    const two = builder('[[run.images]]\nimage = "a:1"\nflavor = "static"\n[[run.images]]\nimage = "b:1"\nflavor = "static"\n');
    expect(() => runImageSet(two.runImages, two.file)).toThrow(/builder\.toml: more than one \[\[run\.images\]\] entry has flavor = "static"/);
  });
});

describe('requestedFlavor (launch.toml label io.lading.run-image)', () => {
  it('no label: base; "static" / "base": that flavor, saying why', () => {
    expect(requestedFlavor([{ key: 'other', value: 'static' }])).toEqual({ flavor: 'base', reason: `no buildpack set the ${RUN_IMAGE_LABEL} label` });
    expect(requestedFlavor([{ key: RUN_IMAGE_LABEL, value: 'static' }])).toMatchObject({ flavor: 'static', reason: expect.stringContaining('= "static"') });
    expect(requestedFlavor([{ key: RUN_IMAGE_LABEL, value: 'base' }]).flavor).toBe('base');
  });

  it('any other value is a build output error (exit 52)', () => {
    expect(() => requestedFlavor([{ key: RUN_IMAGE_LABEL, value: 'Static' }])).toThrow(expect.objectContaining({ code: 'BUILD', message: expect.stringContaining('"Static": must be one of base, static') }));
  });
});

describe('checkSameTarget', () => {
  const chosen = (target: AnalyzedRunImage['target']) => ({ name: 'run-static:1', target }) as AnalyzedRunImage;
  const base = { os: 'linux', arch: 'amd64', distro: { name: 'debian', version: '12' } };

  it('accepts the same os, arch and distro', () => {
    expect(() => checkSameTarget(base, chosen({ ...base }))).not.toThrow();
  });

  it('refuses another architecture or distro version (ANALYZE, exit 32), naming both', () => {
    expect(() => checkSameTarget(base, chosen({ ...base, arch: 'arm64' }))).toThrow(expect.objectContaining({ code: 'ANALYZE', message: expect.stringMatching(/run-static:1 is linux\/arm64 debian 12, but the build ran for linux\/amd64 debian 12/) }));
    expect(() => checkSameTarget(base, chosen({ os: 'linux', arch: 'amd64', distro: { name: 'debian', version: '13' } }))).toThrow(/debian 13/);
    expect(() => checkSameTarget(base, chosen({ os: 'linux', arch: 'amd64' }))).toThrow(/share os, architecture and distro/);
  });
});
