import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import type { PlanEntry } from './build-plan.js';
import { buildpackPlanFor, buildpackPlanToml, groupToml, parseGroupToml, parsePlanToml, planToml, remainingPlan } from './plan-files.js';
import { parseBuildToml } from './launch-toml.js';

const entries: PlanEntry[] = [
  {
    providers: [{ id: 'acme/node', version: '1.0.0' }, { id: 'acme/yarn', version: '2.0.0' }],
    requires: [
      { name: 'node', metadata: { version: '20', build: true } },
      { name: 'node', metadata: { launch: true } },
    ],
  },
  { providers: [{ id: 'acme/yarn', version: '2.0.0' }], requires: [{ name: 'yarn', metadata: {} }] },
];

describe('platform.md: group.toml and plan.toml', () => {
  it('writes group.toml with id, version, api and homepage, and reads it back', () => {
    const group = [
      { id: 'acme/node', version: '1.0.0', api: '0.12', homepage: 'https://example.com' },
      { id: 'acme/yarn', version: '2.0.0', api: '0.10' },
    ];
    const text = groupToml(group);
    expect(parse(text)).toEqual({ group });
    expect(parseGroupToml(text, '/layers/group.toml')).toEqual(group);
  });

  it('writes plan.toml entries with providers and requires, and reads it back', () => {
    const text = planToml(entries);
    expect(parse(text)).toEqual({
      entries: [
        {
          providers: entries[0]!.providers,
          requires: [
            { name: 'node', metadata: { version: '20', build: true } },
            { name: 'node', metadata: { launch: true } },
          ],
        },
        { providers: entries[1]!.providers, requires: [{ name: 'yarn' }] },
      ],
    });
    expect(parsePlanToml(text, '/layers/plan.toml')).toEqual(entries);
  });

  it('names the file when group.toml is malformed', () => {
    expect(() => parseGroupToml('[[group]]\nid = "a"\n', '/layers/group.toml')).toThrow('/layers/group.toml: group[0].version is required');
  });
});

describe('buildpack.md: Buildpack Plan (TOML)', () => {
  it('gives a buildpack one entry per require of every entry it provides, names repeating', () => {
    expect(buildpackPlanFor(entries, 'acme/node')).toEqual([
      { name: 'node', metadata: { version: '20', build: true } },
      { name: 'node', metadata: { launch: true } },
    ]);
    expect(buildpackPlanFor(entries, 'acme/yarn').map((e) => e.name)).toEqual(['node', 'node', 'yarn']);
    expect(buildpackPlanFor(entries, 'acme/other')).toEqual([]);
  });

  it('writes the buildpack plan file as [[entries]] name + metadata', () => {
    const text = buildpackPlanToml(buildpackPlanFor(entries, 'acme/yarn'));
    expect(parse(text)).toEqual({
      entries: [
        { name: 'node', metadata: { version: '20', build: true } },
        { name: 'node', metadata: { launch: true } },
        { name: 'yarn' },
      ],
    });
  });
});

describe('buildpack.md: Unmet Buildpack Plan Entries', () => {
  it('removes the entries a buildpack met from later buildpacks’ plans', () => {
    const afterNode = remainingPlan(entries, buildpackPlanFor(entries, 'acme/node'), []);
    expect(buildpackPlanFor(afterNode, 'acme/yarn').map((e) => e.name)).toEqual(['yarn']);
  });

  it('passes an entry listed in build.toml [[unmet]] on to the next buildpack that provided it', () => {
    const build = parseBuildToml('[[unmet]]\nname = "node"\n', '/layers/acme_node/build.toml');
    expect(build.unmet).toEqual(['node']);
    const afterNode = remainingPlan(entries, buildpackPlanFor(entries, 'acme/node'), build.unmet);
    expect(buildpackPlanFor(afterNode, 'acme/yarn').map((e) => e.name)).toEqual(['node', 'node', 'yarn']);
  });
});
