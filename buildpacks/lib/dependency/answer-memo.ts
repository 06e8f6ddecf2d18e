import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isTable, type TomlTable } from '../toml-file.js';
import { DownloadStore } from './download-store.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The folder of the platform's download store (DOWNLOAD_STORE_ENV) that holds registry answers. */
export const SHARED_ANSWERS_DIR = 'answers';

/** `<download store>/answers` when the platform offers a store in `env`, else undefined. */
export function sharedAnswersDir(env: Env): string | undefined {
  const store = DownloadStore.fromEnv(env);
  return store ? join(store.dir, SHARED_ANSWERS_DIR) : undefined;
}

/** An answer is a flat table of strings and numbers: what the TOML of a layer's metadata keeps as it is. */
function isAnswer(v: unknown): v is TomlTable {
  return isTable(v) && Object.values(v).every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)));
}

/**
 * Registry answers kept at two levels: `table` (a cache layer's metadata, restored with the build's cache)
 * over `dir` (one JSON file per key, shared by every build on the machine). An answer found only on the
 * machine is copied into `table`, so the next rebuild needs neither the registry nor the machine; one served
 * from `table` leaves it unchanged. The machine level only saves time: a file that cannot be read, is damaged
 * or belongs to another key is ignored (and removed), and a directory that cannot be written is skipped.
 */
export class AnswerMemo {
  constructor(
    readonly table: TomlTable,
    /** The machine's answers; undefined: only `table` is used. */
    readonly dir?: string,
  ) {}

  /** A memo over `table` and the answers of the store the platform offers in `env` (DOWNLOAD_STORE_ENV). */
  static fromEnv(table: TomlTable, env: Env): AnswerMemo {
    return new AnswerMemo(table, sharedAnswersDir(env));
  }

  #file(machineKey: string): string {
    return join(this.dir as string, `${createHash('sha256').update(machineKey).digest('hex')}.json`);
  }

  /**
   * The answer for `key`: `use(entry)` decides whether an entry is still good (fresh, well-formed) and what it
   * gives. The table is asked first, then the machine (by `machineKey`, which may say more than `key`: the
   * table belongs to one build, the machine to all of them).
   */
  async get<T>(key: string, use: (entry: TomlTable) => T | undefined, machineKey = key): Promise<T | undefined> {
    const own = this.table[key];
    const fromTable = isAnswer(own) ? use(own) : undefined;
    if (fromTable !== undefined || !this.dir) return fromTable;
    const shared = await this.#read(machineKey);
    const fromMachine = shared ? use(shared) : undefined;
    if (fromMachine !== undefined) this.table[key] = { ...(shared as TomlTable) };
    return fromMachine;
  }

  /** Keeps `value` under `key` in the table and, when it can, on the machine. */
  async set(key: string, value: TomlTable, machineKey = key): Promise<void> {
    this.table[key] = value;
    if (!this.dir) return;
    const file = this.#file(machineKey);
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(temp, `${JSON.stringify({ key: machineKey, value })}\n`);
      await rename(temp, file);
    } catch {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }

  /** The machine's entry for `machineKey`; a damaged one, or one written for another key, is removed. */
  async #read(machineKey: string): Promise<TomlTable | undefined> {
    const file = this.#file(machineKey);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') await rm(file, { force: true }).catch(() => undefined);
      return undefined;
    }
    try {
      const doc = JSON.parse(text) as unknown;
      if (isTable(doc) && doc['key'] === machineKey && isAnswer(doc['value'])) return doc['value'];
    } catch {
      // not JSON (a torn or foreign file): removed below
    }
    await rm(file, { force: true }).catch(() => undefined);
    return undefined;
  }
}
