import { describe, expect, it } from 'vitest';
import { buildTable, launchTable } from './outputs.js';
import { BuildpackPlan, buildPlanTable } from './plan.js';

describe('buildpack.md "launch.toml", "build.toml", "Build Plan": what the SDK refuses to write', () => {
  it('writes processes with command arrays, args, default and working-dir; labels; slices', () => {
    expect(
      launchTable({
        processes: [{ type: 'web', command: ['node', 'server.js'], args: ['--port', '8080'], default: true, workingDir: '/workspace/app', execEnv: ['production'] }],
        labels: [{ key: 'a', value: 'b' }],
        slices: [{ paths: ['public/**'] }],
      }),
    ).toEqual({
      labels: [{ key: 'a', value: 'b' }],
      processes: [{ type: 'web', command: ['node', 'server.js'], args: ['--port', '8080'], default: true, 'working-dir': '/workspace/app', 'exec-env': ['production'] }],
      slices: [{ paths: ['public/**'] }],
    });
    expect(launchTable({})).toBeUndefined();
  });

  it('refuses bad process types, duplicates, two defaults, empty commands and duplicate labels', () => {
    expect(() => launchTable({ processes: [{ type: 'we b', command: ['x'] }] })).toThrow('process type "we b" must match');
    expect(() => launchTable({ processes: [{ type: 'a', command: ['x'] }, { type: 'a', command: ['y'] }] })).toThrow('process type "a" is given twice');
    expect(() => launchTable({ processes: [{ type: 'a', command: ['x'], default: true }, { type: 'b', command: ['y'], default: true }] })).toThrow(
      'only one process may be the default (a, b)',
    );
    expect(() => launchTable({ processes: [{ type: 'a', command: [] }] })).toThrow('process "a" needs a command array');
    expect(() => launchTable({ labels: [{ key: 'k', value: '1' }, { key: 'k', value: '2' }] })).toThrow('label "k" is given twice');
  });

  it('build.toml [[unmet]] names only Buildpack Plan entries', () => {
    const plan = new BuildpackPlan([{ name: 'node', metadata: { launch: true } }, { name: 'node', metadata: { build: true } }, { name: 'npm', metadata: {} }]);
    expect(buildTable({ unmet: ['npm', 'npm'] }, plan)).toEqual({ unmet: [{ name: 'npm' }] });
    expect(buildTable({}, plan)).toBeUndefined();
    expect(() => buildTable({ unmet: ['yarn'] }, plan)).toThrow('unmet entry "yarn" is not in the Buildpack Plan');
    expect(plan.named('node')).toHaveLength(2);
    expect(plan.layerTypesFor('node')).toEqual({ build: true, launch: true });
    expect(plan.layerTypesFor('npm')).toEqual({ build: false, launch: false });
  });

  it('the detect plan rejects a top-level version ("metadata.version should be used") and nameless entries', () => {
    expect(() => buildPlanTable({ requires: [{ name: 'node', version: '20' } as never] })).toThrow('requires[0] (node) has a top-level version; put it in metadata.version');
    expect(() => buildPlanTable({ or: [{ provides: [{ name: '' }] }] })).toThrow('build plan: or[0].provides[0] has no name');
    expect(buildPlanTable({ provides: [{ name: 'a' }], requires: [{ name: 'a', metadata: {} }] })).toEqual({ provides: [{ name: 'a' }], requires: [{ name: 'a' }] });
  });
});
