import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify, TomlError } from 'smol-toml';
import { BuildpackError } from './errors.js';

export type TomlTable = Record<string, unknown>;

/** Parses TOML text; a syntax error names the file and line. */
export function parseTomlText(text: string, file: string): TomlTable {
  try {
    return parse(text) as TomlTable;
  } catch (err) {
    const where = err instanceof TomlError ? `${file}:${err.line}:${err.column}` : file;
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new BuildpackError('CONTRACT', `${where}: invalid TOML: ${why}`, { cause: err });
  }
}

/** Reads a TOML file; undefined when it does not exist. */
export async function readTomlFile(file: string): Promise<TomlTable | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BuildpackError('CONTRACT', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseTomlText(text, file);
}

/** Writes a table as TOML (keys in insertion order, so callers decide a stable order). */
export async function writeTomlFile(file: string, table: TomlTable): Promise<void> {
  let text: string;
  try {
    text = stringify(table);
  } catch (err) {
    throw new BuildpackError('INVALID_OUTPUT', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  await writeFile(file, text.endsWith('\n') || text === '' ? text : `${text}\n`);
}

/** A plain-object check for values read from TOML/JSON. */
export function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
