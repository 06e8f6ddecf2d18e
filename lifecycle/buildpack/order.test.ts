import { describe, expect, it } from 'vitest';
import { BuildpackCatalog } from './catalog.js';
import { parseBuildpackDescriptor, type Order } from './descriptor.js';
import { expandOrder, parseOrderToml } from './order.js';

/** A catalog of component buildpacks A–H and composites given as { id: order }. */
function catalog(composites: Record<string, string[][]> = {}, componentExtra: Record<string, string> = {}): BuildpackCatalog {
  const components = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'].map((id) =>
    parseBuildpackDescriptor(`api = "0.12"\n[buildpack]\nid = "${id}"\nversion = "1.0.0"\n${componentExtra[id] ?? ''}`, `/bp/${id}/buildpack.toml`, `/bp/${id}`),
  );
  const comps = Object.entries(composites).map(([id, order]) => {
    const toml = order
      .map((g) => '[[order]]\n' + g.map((e) => `[[order.group]]\nid = "${e.replace('?', '')}"\nversion = "1.0.0"\noptional = ${e.endsWith('?')}\n`).join(''))
      .join('');
    return parseBuildpackDescriptor(`api = "0.12"\n[buildpack]\nid = "${id}"\nversion = "1.0.0"\n${toml}`, `/bp/${id}/buildpack.toml`, `/bp/${id}`);
  });
  return new BuildpackCatalog([...components, ...comps]);
}

/** An order from strings: 'X' required, 'X?' optional. */
const order = (...groups: string[][]): Order => groups.map((g) => g.map((e) => ({ id: e.replace('?', ''), version: '1.0.0', optional: e.endsWith('?') })));
const ids = (groups: Iterable<{ id: string; optional: boolean }[]>) => [...groups].map((g) => g.map((m) => m.id + (m.optional ? '?' : '')).join(','));

describe('buildpack.md: Order Resolution', () => {
  const OP = { O: [['A', 'B'], ['C', 'D']], P: [['E', 'F'], ['G', 'H']] };

  it('[E, O, F] expands O in place: [E, A, B, F], [E, C, D, F]', () => {
    expect(ids(expandOrder(order(['E', 'O', 'F']), catalog(OP)))).toEqual(['E,A,B,F', 'E,C,D,F']);
  });

  it('[O, P] expands depth-first, left to right, into four groups', () => {
    expect(ids(expandOrder(order(['O', 'P']), catalog(OP)))).toEqual(['A,B,E,F', 'A,B,G,H', 'C,D,E,F', 'C,D,G,H']);
  });

  it('expands nested composites recursively', () => {
    const cat = catalog({ Inner: [['B'], ['C']], Outer: [['A', 'Inner', 'D']] });
    expect(ids(expandOrder(order(['Outer', 'E']), cat))).toEqual(['A,B,D,E', 'A,C,D,E']);
  });

  it('tries the groups of the order one after another', () => {
    expect(ids(expandOrder(order(['A'], ['O'], ['B']), catalog(OP)))).toEqual(['A', 'A,B', 'C,D', 'B']);
  });

  it('an optional composite adds a copy of the group without it after the original', () => {
    expect(ids(expandOrder(order(['E', 'O?', 'F']), catalog(OP)))).toEqual(['E,A,B,F', 'E,C,D,F', 'E,F']);
  });

  it('keeps the optional flag of members inside a composite', () => {
    const cat = catalog({ O: [['A?', 'B']] });
    expect(ids(expandOrder(order(['O', 'C?']), cat))).toEqual(['A?,B,C?']);
  });

  it('an optional component buildpack stays in its group, marked optional (dropped during detection when it fails)', () => {
    expect(ids(expandOrder(order(['A', 'B?', 'C']), catalog()))).toEqual(['A,B?,C']);
  });

  it('does not repeat a buildpack id already in the group', () => {
    const cat = catalog({ O: [['A', 'B']] });
    expect(ids(expandOrder(order(['A', 'O', 'B']), cat))).toEqual(['A,B']);
  });

  it('resolves lazily: later composites are not looked up until their group is reached', () => {
    const gen = expandOrder(order(['A'], ['Missing']), catalog());
    expect(ids([gen.next().value!])).toEqual(['A']);
    expect(() => gen.next()).toThrow('buildpack Missing not found');
  });

  it('refuses a composite whose order contains itself', () => {
    const cat = catalog({ Loop: [['A', 'Loop']] });
    expect(() => [...expandOrder(order(['Loop']), cat)]).toThrow('the order of composite buildpack Loop contains itself (Loop → Loop)');
  });

  it('uses the catalog version when an entry has none', () => {
    const groups = [...expandOrder([[{ id: 'A', optional: false }]], catalog())];
    expect(groups[0]![0]!.version).toBe('1.0.0');
  });
});

describe('platform.md: detector — execution environments', () => {
  it('skips buildpacks whose order entry or descriptor excludes a non-default exec-env', () => {
    const cat = catalog({}, { B: '[[buildpack.exec-env]]\nname = "production"\n' });
    const o: Order = [[
      { id: 'A', version: '1.0.0', optional: false, execEnv: ['test'] },
      { id: 'B', version: '1.0.0', optional: false },
      { id: 'C', version: '1.0.0', optional: false, execEnv: ['*'] },
      { id: 'D', version: '1.0.0', optional: false, execEnv: ['development'] },
    ]];
    expect(ids(expandOrder(o, cat, { execEnv: 'test' }))).toEqual(['A,C']);
    expect(ids(expandOrder(o, cat))).toEqual(['A,B,C,D']);
  });
});

describe('platform.md: order.toml (TOML)', () => {
  it('parses groups with optional defaulting to false', () => {
    const o = parseOrderToml('[[order]]\n[[order.group]]\nid = "a"\nversion = "1.0.0"\n[[order.group]]\nid = "b"\nversion = "2.0.0"\noptional = true\n', '/cnb/order.toml');
    expect(o).toEqual([[{ id: 'a', version: '1.0.0', optional: false }, { id: 'b', version: '2.0.0', optional: true }]]);
  });

  it('requires id and version, and names the file', () => {
    expect(() => parseOrderToml('[[order]]\n[[order.group]]\nid = "a"\n', '/cnb/order.toml')).toThrow('/cnb/order.toml: order[0].group[0].version is required');
    expect(() => parseOrderToml('[[order]]\n', '/cnb/order.toml')).toThrow('/cnb/order.toml: order[0].group must list at least one buildpack');
    expect(() => parseOrderToml('[[order]\n', '/cnb/order.toml')).toThrow(/^\/cnb\/order\.toml:1: invalid TOML/);
  });
});
