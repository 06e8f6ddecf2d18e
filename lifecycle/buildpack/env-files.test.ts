import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEnvFiles, envFileAction, readEnvDir, readPlatformEnvDir, type EnvAction, type EnvFile } from './env-files.js';

const f = (name: string, action: EnvAction, value: string): EnvFile => ({ name, action, value, file: `/x/${name}.${action}` });

describe('buildpack.md: Environment Variable Modification Rules', () => {
  it('the variable name is the file name up to the first period; the suffix picks the action', () => {
    expect(envFileAction('JAVA_OPTS', 'override')).toEqual({ name: 'JAVA_OPTS', action: 'override' });
    expect(envFileAction('JAVA_OPTS.append', 'override')).toEqual({ name: 'JAVA_OPTS', action: 'append' });
    expect(envFileAction('PATH.prepend', 'override')).toEqual({ name: 'PATH', action: 'prepend' });
    expect(envFileAction('X.default', 'override')).toEqual({ name: 'X', action: 'default' });
    expect(envFileAction('X.override', 'default')).toEqual({ name: 'X', action: 'override' });
    expect(envFileAction('X.delim', 'override')).toEqual({ name: 'X', action: 'delim' });
    expect(envFileAction('X.bogus', 'override')).toBeUndefined();
  });

  it('no suffix: override for buildpack layers, default for operator build-config (platform.md)', () => {
    expect(envFileAction('NODE_ENV', 'override')?.action).toBe('override');
    expect(envFileAction('NODE_ENV', 'default')?.action).toBe('default');
  });

  it('Override: the value is the file contents', () => {
    expect(applyEnvFiles({ A: 'old' }, [f('A', 'override', 'new')])).toEqual({ A: 'new' });
    expect(applyEnvFiles({}, [f('A', 'override', 'new')])).toEqual({ A: 'new' });
  });

  it('Default: only when the variable is unset or empty', () => {
    expect(applyEnvFiles({ A: 'set' }, [f('A', 'default', 'd')])).toEqual({ A: 'set' });
    expect(applyEnvFiles({ A: '' }, [f('A', 'default', 'd')])).toEqual({ A: 'd' });
    expect(applyEnvFiles({}, [f('A', 'default', 'd')])).toEqual({ A: 'd' });
  });

  it('Append and Prepend concatenate without a delimiter unless .delim says one', () => {
    expect(applyEnvFiles({ A: 'x' }, [f('A', 'append', 'y')])).toEqual({ A: 'xy' });
    expect(applyEnvFiles({ A: 'x' }, [f('A', 'prepend', 'y')])).toEqual({ A: 'yx' });
    expect(applyEnvFiles({ A: 'x' }, [f('A', 'append', 'y'), f('A', 'delim', ' ')])).toEqual({ A: 'x y' });
    expect(applyEnvFiles({ A: 'x' }, [f('A', 'delim', ':'), f('A', 'prepend', '/opt/bin')])).toEqual({ A: '/opt/bin:x' });
  });

  it('Append/Prepend to an unset variable set it without a dangling delimiter', () => {
    expect(applyEnvFiles({}, [f('A', 'append', 'y'), f('A', 'delim', ':')])).toEqual({ A: 'y' });
    expect(applyEnvFiles({}, [f('A', 'prepend', 'y'), f('A', 'delim', ':')])).toEqual({ A: 'y' });
  });

  it('Delimiter: a .delim anywhere in the layer applies to that variable only, and is not itself set', () => {
    const env = applyEnvFiles({ A: 'a', B: 'b' }, [f('A', 'delim', ','), f('A', 'append', '1'), f('B', 'append', '2')]);
    expect(env).toEqual({ A: 'a,1', B: 'b2' });
  });

  it('file contents are used verbatim, never trimmed or shell-evaluated', () => {
    expect(applyEnvFiles({}, [f('A', 'override', ' $HOME `id` \n')])).toEqual({ A: ' $HOME `id` \n' });
  });

  it('does not modify its input', () => {
    const env = { A: 'x' };
    applyEnvFiles(env, [f('A', 'override', 'y')]);
    expect(env).toEqual({ A: 'x' });
  });
});

describe('buildpack.md: env directories on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lading-env-'));
    await mkdir(join(dir, 'env', 'sub'), { recursive: true });
    await writeFile(join(dir, 'env', 'B.append'), 'b');
    await writeFile(join(dir, 'env', 'A'), 'a\n');
    await writeFile(join(dir, 'env', 'A.bogus'), 'x');
    await writeFile(join(dir, 'env', '.hidden'), 'x');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads files sorted by name, skipping subdirectories and reporting unknown suffixes', async () => {
    const warnings: string[] = [];
    const files = await readEnvDir(join(dir, 'env'), 'override', (w) => warnings.push(w));
    expect(files).toEqual([
      { name: 'A', action: 'override', value: 'a\n', file: join(dir, 'env', 'A') },
      { name: 'B', action: 'append', value: 'b', file: join(dir, 'env', 'B.append') },
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('.hidden: ignored');
    expect(await readEnvDir(join(dir, 'missing'), 'override')).toEqual([]);
  });

  it('platform env/ files: the whole file name is the variable, contents verbatim', async () => {
    const p = join(dir, 'platform-env');
    await mkdir(p);
    await writeFile(join(p, 'BP_NODE_VERSION'), '20');
    await writeFile(join(p, 'JAVA_OPTS.x'), '-Xmx1g');
    expect(await readPlatformEnvDir(p)).toEqual({ BP_NODE_VERSION: '20', 'JAVA_OPTS.x': '-Xmx1g' });
    expect(await readPlatformEnvDir(join(dir, 'no-platform'))).toEqual({});
  });
});
