import { BuildpackError } from './errors.js';
import { PROCESS_TYPE_RE } from './env.js';

/** One `type: command` line of a Procfile. */
export interface ProcfileEntry {
  type: string;
  command: string;
}

/**
 * Parses a Procfile (Heroku's format, which Paketo's procfile buildpack reads too): `type: command` lines,
 * blank lines and `#` comments skipped. A malformed line or an invalid process type is an error naming
 * `file` and the line number.
 */
export function parseProcfile(text: string, file: string): ProcfileEntry[] {
  const out: ProcfileEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([^:\s]+)\s*:\s*(.*)$/.exec(line);
    const type = m?.[1];
    const command = m?.[2]?.trim();
    if (!type || !command) throw new BuildpackError('CONFIG', `${file} line ${i + 1}: expected "<type>: <command>", got "${line}"`);
    if (!PROCESS_TYPE_RE.test(type)) throw new BuildpackError('CONFIG', `${file} line ${i + 1}: "${type}" is not a valid process type (letters, digits, "." "_" "-")`);
    out.push({ type, command });
  });
  return out;
}
