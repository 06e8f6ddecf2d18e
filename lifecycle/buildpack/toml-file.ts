import { readFile } from 'node:fs/promises';
import { parse, TomlError } from 'smol-toml';
import { LadingError, NotFoundError, type ErrorCode } from '../../registry/oci/index.js';

/** A parsed TOML table. Values stay `unknown` until a field reader checks their type. */
export type TomlTable = Record<string, unknown>;

/**
 * Parses TOML text. A syntax error becomes a LadingError with `code` whose one-line message names the file
 * and the line (smol-toml's multi-line code frame is kept only in the cause).
 */
export function parseToml(text: string, file: string, code: ErrorCode): TomlTable {
  try {
    return parse(text) as TomlTable;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
      throw new LadingError(code, `${file}:${err.line}: invalid TOML: ${reason}`, { cause: err });
    }
    throw new LadingError(code, `${file}: invalid TOML: ${String(err)}`, { cause: err });
  }
}

/** Reads a text file; a missing file is NOT_FOUND (or `undefined` with `optional`), other failures IO. */
export async function readTextFile(file: string): Promise<string>;
export async function readTextFile(file: string, opts: { optional: true }): Promise<string | undefined>;
export async function readTextFile(file: string, opts: { optional?: boolean } = {}): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (opts.optional) return undefined;
      throw new NotFoundError(`${file}: file not found`, { cause: err });
    }
    throw new LadingError('IO', `${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads and parses a TOML file. With `optional`, a missing file gives `undefined` instead of NOT_FOUND. */
export async function readTomlFile(file: string, code: ErrorCode): Promise<TomlTable>;
export async function readTomlFile(file: string, code: ErrorCode, opts: { optional: true }): Promise<TomlTable | undefined>;
export async function readTomlFile(
  file: string,
  code: ErrorCode,
  opts: { optional?: boolean } = {},
): Promise<TomlTable | undefined> {
  const text = opts.optional ? await readTextFile(file, { optional: true }) : await readTextFile(file);
  return text === undefined ? undefined : parseToml(text, file, code);
}

/**
 * Typed access to the fields of one TOML table, with errors that name the file and the dotted key path.
 * `where` is the table's path inside the file ('' for the root), e.g. `order[0].group[1]`.
 */
export class TomlFields {
  constructor(
    readonly table: TomlTable,
    readonly file: string,
    readonly code: ErrorCode,
    readonly where = '',
  ) {}

  key(name: string): string {
    return this.where === '' ? name : `${this.where}.${name}`;
  }

  fail(message: string, cause?: unknown): never {
    throw new LadingError(this.code, `${this.file}: ${message}`, cause === undefined ? {} : { cause });
  }

  private wrongType(name: string, expected: string): never {
    this.fail(`${this.key(name)} must be ${expected}`);
  }

  has(name: string): boolean {
    return this.table[name] !== undefined;
  }

  optionalString(name: string): string | undefined {
    const v = this.table[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.wrongType(name, 'a string');
    return v;
  }

  string(name: string): string {
    const v = this.optionalString(name);
    if (v === undefined || v === '') this.fail(`${this.key(name)} is required`);
    return v;
  }

  boolean(name: string, fallback = false): boolean {
    const v = this.table[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.wrongType(name, 'true or false');
    return v;
  }

  stringArray(name: string): string[] {
    const v = this.table[name];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) this.wrongType(name, 'an array of strings');
    return v as string[];
  }

  optionalStringArray(name: string): string[] | undefined {
    return this.has(name) ? this.stringArray(name) : undefined;
  }

  /** A sub-table (TOML `[name]`), or an empty one when absent. */
  table_(name: string): TomlFields {
    const v = this.table[name];
    if (v === undefined) return new TomlFields({}, this.file, this.code, this.key(name));
    if (!isTable(v)) this.wrongType(name, 'a table');
    return new TomlFields(v, this.file, this.code, this.key(name));
  }

  /** The raw value of a free-form table such as `[metadata]`: `{}` when absent. */
  freeTable(name: string): TomlTable {
    return this.table_(name).table;
  }

  /** An array of tables (TOML `[[name]]`), empty when absent. */
  tables(name: string): TomlFields[] {
    const v = this.table[name];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((t) => !isTable(t))) this.wrongType(name, 'an array of tables');
    return (v as TomlTable[]).map((t, i) => new TomlFields(t, this.file, this.code, `${this.key(name)}[${i}]`));
  }
}

export function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Fields of the root table of a parsed file. */
export function tomlFields(table: TomlTable, file: string, code: ErrorCode): TomlFields {
  return new TomlFields(table, file, code);
}
