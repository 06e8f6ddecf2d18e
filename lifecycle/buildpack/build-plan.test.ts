import { describe, expect, it } from 'vitest';
import { parseDetectPlan, resolveBuildPlan, type DetectedBuildpack, type DetectPlan } from './build-plan.js';

const FILE = '/tmp/plan.toml';

/** A detected buildpack from a compact plan: 'p:x' provides x, 'r:x' requires x; '|' separates [[or]] alternatives. */
function bp(id: string, spec: string, optional = false): DetectedBuildpack {
  const [first, ...alts] = spec.split('|').map((part) => {
    const words = part.trim().split(/\s+/).filter(Boolean);
    return {
      provides: words.filter((w) => w.startsWith('p:')).map((w) => ({ name: w.slice(2) })),
      requires: words.filter((w) => w.startsWith('r:')).map((w) => ({ name: w.slice(2), metadata: {} })),
    };
  });
  const plan: DetectPlan = { ...first!, or: alts };
  return { id, version: '1.0.0', optional, plan };
}

const groupIds = (r: ReturnType<typeof resolveBuildPlan>) => r?.group.map((m) => m.id);

describe('buildpack.md: Build Plan (TOML)', () => {
  it('parses provides, requires with metadata, and [[or]] alternatives', () => {
    const plan = parseDetectPlan(
      `
[[provides]]
name = "node"
[[requires]]
name = "node"
[requires.metadata]
version = "20.x"
launch = true
[[or]]
[[or.provides]]
name = "yarn"
[[or.requires]]
name = "node"
[or.requires.metadata]
build = true
`,
      FILE,
      'acme/node',
    );
    expect(plan).toEqual({
      provides: [{ name: 'node' }],
      requires: [{ name: 'node', metadata: { version: '20.x', launch: true } }],
      or: [{ provides: [{ name: 'yarn' }], requires: [{ name: 'node', metadata: { build: true } }] }],
    });
  });

  it('an empty plan file is a plan with nothing in it', () => {
    expect(parseDetectPlan('', FILE, 'a')).toEqual({ provides: [], requires: [], or: [] });
  });

  it('rejects a top-level "version" key in requires, as the Go lifecycle does', () => {
    expect(() => parseDetectPlan('[[requires]]\nname = "ruby"\nversion = "3.3"\n', FILE, 'samples/ruby')).toThrow(
      expect.objectContaining({
        code: 'DETECT',
        message: `${FILE}: buildpack samples/ruby has a "version" key in requires[0] which is not supported; use "metadata.version" instead`,
      }),
    );
    expect(() => parseDetectPlan('[[or]]\n[[or.requires]]\nname = "ruby"\nversion = "3"\n', FILE, 'x')).toThrow('"version" key in or[0].requires[0]');
  });

  it('names file and line for malformed TOML, and the key for a missing name', () => {
    expect(() => parseDetectPlan('[[provides]]\nname = \n', FILE, 'x')).toThrow(new RegExp(`^${FILE}:2: invalid TOML`));
    expect(() => parseDetectPlan('[[requires]]\n', FILE, 'x')).toThrow(`${FILE}: requires[0].name is required`);
  });
});

describe('buildpack.md: Phase #1: Detection — Build Plan trials', () => {
  it('a require must be provided by the same or an earlier buildpack', () => {
    expect(groupIds(resolveBuildPlan([bp('A', 'p:x'), bp('B', 'r:x')]))).toEqual(['A', 'B']);
    expect(resolveBuildPlan([bp('B', 'r:x'), bp('A', 'p:x')])).toBeUndefined();
    expect(groupIds(resolveBuildPlan([bp('A', 'p:x r:x')]))).toEqual(['A']);
  });

  it('a provide must be required by the same or a later buildpack', () => {
    expect(resolveBuildPlan([bp('A', 'p:x'), bp('B', '')])).toBeUndefined();
  });

  it('builds plan entries with every provider before the require and every require', () => {
    const r = resolveBuildPlan([bp('A', 'p:x'), bp('B', 'p:x r:x'), bp('C', 'r:x'), bp('D', 'p:y r:y')]);
    expect(r?.entries).toEqual([
      { providers: [{ id: 'A', version: '1.0.0' }, { id: 'B', version: '1.0.0' }], requires: [{ name: 'x', metadata: {} }, { name: 'x', metadata: {} }] },
      { providers: [{ id: 'D', version: '1.0.0' }], requires: [{ name: 'y', metadata: {} }] },
    ]);
  });

  it('tries [[or]] alternatives left to right, depth first, and takes the first trial that works', () => {
    // A: provides x | provides y.  B: requires y | requires x.
    const r = resolveBuildPlan([bp('A', 'p:x | p:y'), bp('B', 'r:y | r:x')]);
    // Trial order: (A0,B0) fails, (A0,B1) works — A's first alternative wins over B's first.
    expect(r?.entries.map((e) => e.requires[0]!.name)).toEqual(['x']);
  });

  it('uses a later alternative when the first cannot be satisfied', () => {
    const r = resolveBuildPlan([bp('A', 'p:compiler r:compiler | p:runtime'), bp('B', 'r:runtime')]);
    expect(r?.entries.map((e) => e.requires[0]!.name)).toEqual(['runtime']);
  });

  it('an optional buildpack with an unmet require or unused provide is dropped with its requires and provides', () => {
    const r = resolveBuildPlan([bp('A', 'p:x'), bp('O', 'r:missing p:x', true), bp('B', 'r:x')]);
    expect(groupIds(r)).toEqual(['A', 'B']);
    expect(r?.entries).toEqual([{ providers: [{ id: 'A', version: '1.0.0' }], requires: [{ name: 'x', metadata: {} }] }]);
    expect(groupIds(resolveBuildPlan([bp('A', ''), bp('O', 'p:unused', true)]))).toEqual(['A']);
  });

  it('dropping an optional buildpack can make a required one fail the trial', () => {
    // O is the only provider of x, and O itself requires something nobody provides.
    expect(resolveBuildPlan([bp('O', 'p:x r:nothing', true), bp('B', 'r:x')])).toBeUndefined();
  });

  it('an optional buildpack keeps its earlier [[or]] alternatives before it may be dropped', () => {
    // O's first alternative is unusable; its second provides what B needs. O must not be dropped in trial 1.
    const r = resolveBuildPlan([bp('O', 'p:unused | p:x', true), bp('B', 'r:x')]);
    expect(groupIds(r)).toEqual(['O', 'B']);
  });

  it('fails when every member would be dropped', () => {
    expect(resolveBuildPlan([bp('O', 'r:x', true)])).toBeUndefined();
  });

  it('multiple buildpacks may require or provide the same dependency', () => {
    const r = resolveBuildPlan([bp('A', 'p:x'), bp('B', 'p:x'), bp('C', 'r:x'), bp('D', 'r:x')]);
    expect(r?.entries[0]?.providers.map((p) => p.id)).toEqual(['A', 'B']);
    expect(r?.entries[0]?.requires).toHaveLength(2);
  });
});
