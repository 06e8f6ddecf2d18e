import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AnswerMemo, sharedAnswersDir } from './answer-memo.js';
import { DOWNLOAD_STORE_ENV } from './download-store.js';
import type { TomlTable } from '../toml-file.js';

const root = mkdtempSync(join(tmpdir(), 'lading-answers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `m${n++}`, 'answers');
const fileOf = (dir: string, key: string) => join(dir, `${createHash('sha256').update(key).digest('hex')}.json`);
const version = (e: TomlTable) => (typeof e['version'] === 'string' ? e['version'] : undefined);

describe('AnswerMemo: a build\'s table over the machine\'s answers', () => {
  it('takes its directory from the platform\'s download store, or has none', () => {
    expect(sharedAnswersDir({})).toBeUndefined();
    expect(sharedAnswersDir({ [DOWNLOAD_STORE_ENV]: '  ' })).toBeUndefined();
    expect(sharedAnswersDir({ [DOWNLOAD_STORE_ENV]: '/var/cache/dl' })).toBe('/var/cache/dl/answers');
    expect(AnswerMemo.fromEnv({}, { [DOWNLOAD_STORE_ENV]: '/x' }).dir).toBe('/x/answers');
  });

  it('writes both levels; a second build with an empty table gets the answer from the machine and keeps it', async () => {
    const dir = freshDir();
    const first: TomlTable = {};
    await new AnswerMemo(first, dir).set('resolve r/demo 1.x', { version: '1.1.0', at: 10 });
    expect(first).toEqual({ 'resolve r/demo 1.x': { version: '1.1.0', at: 10 } });
    // One JSON file named by the key's sha256, holding the key.
    expect(readdirSync(dir)).toEqual([`${createHash('sha256').update('resolve r/demo 1.x').digest('hex')}.json`]);
    expect(JSON.parse(readFileSync(fileOf(dir, 'resolve r/demo 1.x'), 'utf8'))).toEqual({ key: 'resolve r/demo 1.x', value: { version: '1.1.0', at: 10 } });

    const second: TomlTable = {};
    expect(await new AnswerMemo(second, dir).get('resolve r/demo 1.x', version)).toBe('1.1.0');
    expect(second).toEqual({ 'resolve r/demo 1.x': { version: '1.1.0', at: 10 } });
    expect(await new AnswerMemo({}, dir).get('resolve r/demo 2.x', version)).toBeUndefined();
  });

  it('serves the table first and leaves it unchanged; the machine is read only when the table has nothing usable', async () => {
    const dir = freshDir();
    await new AnswerMemo({}, dir).set('k', { version: 'machine', at: 20 });
    const table: TomlTable = { k: { version: 'table', at: 5 } };
    const before = structuredClone(table);
    expect(await new AnswerMemo(table, dir).get('k', version)).toBe('table');
    expect(table).toEqual(before);
    // The table's entry is not usable (say, expired): the machine's fresher one is taken and copied.
    expect(await new AnswerMemo(table, dir).get('k', (e) => (e['at'] === 20 ? version(e) : undefined))).toBe('machine');
    expect(table).toEqual({ k: { version: 'machine', at: 20 } });
    // Neither usable: nothing, and the table keeps what it had.
    expect(await new AnswerMemo(table, dir).get('k', () => undefined)).toBeUndefined();
    expect(table).toEqual({ k: { version: 'machine', at: 20 } });
  });

  it('can key the machine\'s entry by more than the table\'s key', async () => {
    const dir = freshDir();
    await new AnswerMemo({}, dir).set('npm-default-registry', { registry: 'http://a.test/', at: 1 }, 'npm-default-registry npm-a');
    expect(existsSync(fileOf(dir, 'npm-default-registry npm-a'))).toBe(true);
    const reg = (e: TomlTable) => e['registry'] as string | undefined;
    expect(await new AnswerMemo({}, dir).get('npm-default-registry', reg, 'npm-default-registry npm-b')).toBeUndefined();
    const table: TomlTable = {};
    expect(await new AnswerMemo(table, dir).get('npm-default-registry', reg, 'npm-default-registry npm-a')).toBe('http://a.test/');
    expect(Object.keys(table)).toEqual(['npm-default-registry']);
  });

  it('ignores and removes a damaged file, a file written for another key and a value TOML cannot keep', async () => {
    const dir = freshDir();
    await new AnswerMemo({}, dir).set('k', { version: '1', at: 1 });
    for (const text of ['{"key":"k","val', JSON.stringify({ key: 'other', value: { version: '1', at: 1 } }), JSON.stringify({ key: 'k', value: { version: { nested: true } } }), JSON.stringify({ key: 'k', value: [1] })]) {
      writeFileSync(fileOf(dir, 'k'), text);
      const table: TomlTable = {};
      expect(await new AnswerMemo(table, dir).get('k', version)).toBeUndefined();
      expect(table).toEqual({});
      expect(existsSync(fileOf(dir, 'k'))).toBe(false);
    }
    // Replaced by the next answer.
    await new AnswerMemo({}, dir).set('k', { version: '2', at: 2 });
    expect(await new AnswerMemo({}, dir).get('k', version)).toBe('2');
  });

  it('skips a machine directory that cannot be written or read, without failing', async () => {
    const blocker = join(root, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const table: TomlTable = {};
    const memo = new AnswerMemo(table, join(blocker, 'answers'));
    await expect(memo.set('k', { version: '1', at: 1 })).resolves.toBeUndefined();
    expect(table).toEqual({ k: { version: '1', at: 1 } });
    expect(await new AnswerMemo({}, join(blocker, 'answers')).get('k', version)).toBeUndefined();
    expect(readFileSync(blocker, 'utf8')).toBe('not a directory');
  });

  it('without a directory, is the table alone', async () => {
    const table: TomlTable = {};
    const memo = new AnswerMemo(table);
    await memo.set('k', { version: '1', at: 1 });
    expect(await memo.get('k', version)).toBe('1');
    expect(await new AnswerMemo({}).get('k', version)).toBeUndefined();
  });
});
