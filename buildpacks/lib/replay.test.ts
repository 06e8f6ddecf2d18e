import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entryKind, finishReplayRecording, noteFreshUntil, REPLAY_KEY_ENV, REPLAY_LAYER, startReplayRecording } from './replay.js';

/** A build dir outside the temp dir (what is under the temp dir is the build's scratch space, not an input). */
const scratch = () => mkdtempSync(join(process.cwd(), '.replay-test-'));

describe('build replay: what a build looked at and wrote (buildpacks/lib/replay.ts)', () => {
  let dir: string;
  let layers: string;
  let app: string;
  let plan: string;
  const env = { [REPLAY_KEY_ENV]: 'key-1', BP_LOG_LEVEL: 'INFO' };
  const record = (name: string) => readFileSync(join(layers, REPLAY_LAYER, name), 'utf8');
  const kept = () => existsSync(join(layers, REPLAY_LAYER, 'key'));

  beforeEach(() => {
    dir = scratch();
    layers = join(dir, 'layers');
    app = join(dir, 'workspace');
    mkdirSync(join(layers, 'node', 'bin'), { recursive: true });
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{}');
    writeFileSync(join(app, 'server.js'), 'x');
    writeFileSync(join(layers, 'node', 'bin', 'node'), '');
    plan = join(tmpdir(), `plan-${process.pid}.toml`);
    writeFileSync(plan, '');
    startReplayRecording(env, layers, plan, app);
  });
  afterEach(async () => {
    await finishReplayRecording(env, 1);
    rmSync(dir, { recursive: true, force: true });
    rmSync(plan, { force: true });
  });

  it('records files read (bytes), kinds asked (entryKind), stats and listings; keeps the top-level files, the output and the links', async () => {
    await readFile(join(app, 'package.json'), 'utf8');
    expect(entryKind(join(app, 'server.js'))).toBe('file');
    expect(entryKind(join(app, 'Procfile'))).toBeUndefined();
    await stat(join(layers, 'node', 'bin', 'node'));
    await readdir(app);
    readFileSync(plan); // the plan is in the launcher's key
    await readFile(join(layers, 'node.toml')).catch(() => undefined); // the top of the layers dir too
    await rm(join(app, 'node_modules'), { recursive: true, force: true });
    await symlink(join(layers, 'modules', 'node_modules'), join(app, 'node_modules'));
    await readFile(join(app, 'node_modules', '.package-lock.json')).catch(() => undefined); // read through the link: the layer's path
    await writeFile(join(layers, 'node.toml'), '[types]\nlaunch = true\n');
    await writeFile(join(layers, 'launch.toml'), '[[processes]]\n');
    process.stdout.write('Reusing layer node\n');
    await finishReplayRecording(env, 0);

    expect(record('inputs').split('\n').filter(Boolean)).toEqual([
      `c ${join(app, 'package.json')}`,
      `c ${join(layers, 'modules', 'node_modules', '.package-lock.json')}`,
      `e ${join(app, 'Procfile')}`,
      `e ${join(app, 'server.js')}`,
      `l ${app}`,
      `s ${join(layers, 'node', 'bin', 'node')}`,
      `x ${join(app, 'node_modules')}`,
    ].sort());
    expect(record('key')).toBe('key-1\n');
    expect(record('until')).toBe('never\n');
    expect(record('log')).toContain('Reusing layer node\n');
    expect(record('links')).toBe(`${join(app, 'node_modules')}\n${join(layers, 'modules', 'node_modules')}\n`);
    expect(readdirSync(join(layers, REPLAY_LAYER, 'out')).sort()).toEqual([`${REPLAY_LAYER}.toml`, 'launch.toml', 'node.toml']);
    expect(readFileSync(join(layers, `${REPLAY_LAYER}.toml`), 'utf8')).toBe('[types]\ncache = true\n');
    expect(existsSync(join(layers, REPLAY_LAYER, 'observed'))).toBe(false); // the launcher adds it
  });

  it('a memoized answer bounds the record: `until` is the earliest expiry', async () => {
    noteFreshUntil(2_000_000_000.7);
    noteFreshUntil(1_900_000_000);
    await finishReplayRecording(env, 0);
    expect(record('until')).toBe('1900000000\n');
    expect(statSync(join(layers, REPLAY_LAYER, 'until')).mtimeMs).toBe(1_900_000_000_000); // what the launcher compares
  });

  it.each([
    ['a write into a layer', () => writeFile(join(layers, 'node', 'bin', 'npm'), '')],
    ['a new layer directory', () => stat(layers).then(() => mkdirSync(join(layers, 'new')))],
    ['a file written into the app dir', () => writeFile(join(app, 'dist.js'), '')],
    ['replacing what the app dir had', () => rm(join(app, 'server.js'))],
    ['a program run', () => new Promise((resolve) => execFile('true', resolve))],
    ['a connection', () => new Promise<void>((resolve) => { const s = createConnection({ port: 9, host: '127.0.0.1' }); s.on('error', () => resolve()); s.on('connect', () => { s.destroy(); resolve(); }); })],
  ])('%s: no record, and an earlier record is removed', async (_what, act) => {
    mkdirSync(join(layers, REPLAY_LAYER), { recursive: true });
    writeFileSync(join(layers, REPLAY_LAYER, 'key'), 'old\n');
    writeFileSync(join(layers, `${REPLAY_LAYER}.toml`), '[types]\ncache = true\n');
    await act();
    await finishReplayRecording(env, 0);
    expect(kept()).toBe(false);
    expect(existsSync(join(layers, `${REPLAY_LAYER}.toml`))).toBe(false);
  });

  it('a failed build keeps no record; writes under the temp dir and a directory made again are fine', async () => {
    const t = mkdtempSync(join(tmpdir(), 'replay-scratch-'));
    writeFileSync(join(t, 'f'), 'x');
    readFileSync(join(t, 'f')); // its own scratch file: not an input
    mkdirSync(join(layers, 'node', 'bin'), { recursive: true });
    await finishReplayRecording(env, 1);
    expect(kept()).toBe(false);
    startReplayRecording(env, layers, plan, app);
    mkdirSync(join(layers, 'node', 'bin'), { recursive: true });
    writeFileSync(join(t, 'g'), 'y');
    await finishReplayRecording(env, 0);
    expect(kept()).toBe(true);
    expect(record('inputs')).toBe('');
    rmSync(t, { recursive: true, force: true });
  });

  it('without the launcher (no key in the env) nothing is watched or kept', async () => {
    await finishReplayRecording(env, 1);
    startReplayRecording({}, layers, plan, app);
    await writeFile(join(layers, 'node', 'bin', 'npm'), '');
    await finishReplayRecording({}, 0);
    expect(kept()).toBe(false);
    expect(statSync(join(layers, 'node', 'bin', 'npm')).isFile()).toBe(true);
  });
});
