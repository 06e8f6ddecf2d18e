import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { BuildpackError } from '../../lib/index.js';

/** One requirement line of a requirements file, after joining continuations and dropping comments. */
export interface RequirementLine {
  file: string;
  line: number;
  text: string;
}

/** A requirements file and the files it pulls in with -r / -c (their contents are part of the install's key). */
export interface RequirementsFiles {
  /** Absolute path → content, in the order read. */
  files: Map<string, string>;
  requirements: RequirementLine[];
}

/** PEP 508 name with extras, then a version specifier list or `@ url`, then a marker. */
const NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const EXTRAS = `\\[\\s*(?:${NAME}(?:\\s*,\\s*${NAME})*)?\\s*\\]`;
const VERSION = '[A-Za-z0-9_.*+!-]+';
const SPEC = `(?:~=|===|==|!=|<=|>=|<|>)\\s*${VERSION}`;
const SPECS = `\\(?\\s*${SPEC}(?:\\s*,\\s*${SPEC})*\\s*\\)?`;
const REQUIREMENT = new RegExp(`^${NAME}\\s*(?:${EXTRAS})?\\s*(?:${SPECS}|@\\s*\\S+)?\\s*(?:;.*)?$`);
/** Per-requirement options pip accepts after a requirement. */
const TRAILING_OPTIONS = /\s+--(hash|global-option|config-settings|install-option)[= ]\S+/g;

/** Options a requirements file may contain, with whether they take a value. */
const OPTIONS: Record<string, boolean> = {
  '-r': true, '--requirement': true, '-c': true, '--constraint': true, '-e': true, '--editable': true,
  '-i': true, '--index-url': true, '--extra-index-url': true, '--no-index': false, '-f': true, '--find-links': true,
  '--trusted-host': true, '--pre': false, '--prefer-binary': false, '--require-hashes': false, '--only-binary': true,
  '--no-binary': true, '--use-feature': true, '--hash': true, '--config-settings': true, '--global-option': true,
};

/** Logical lines: `\`-continuations joined, comments (`#` at the start or after whitespace) removed. */
function logicalLines(content: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let buf = '';
  let start = 0;
  content.split(/\r?\n/).forEach((raw, i) => {
    if (buf === '') start = i + 1;
    if (raw.endsWith('\\')) {
      buf += raw.slice(0, -1);
      return;
    }
    const text = (buf + raw).replace(/(^|\s)#.*$/, '').trim();
    buf = '';
    if (text !== '') out.push({ line: start, text });
  });
  if (buf.trim() !== '') out.push({ line: start, text: buf.trim() });
  return out;
}

/** Whether a line is something pip installs from a path or URL rather than by name. */
const isLocation = (t: string) => /^(\.{1,2}\/|\/|[a-z][a-z0-9+.-]*:\/\/|file:)/i.test(t) || /\.(whl|tar\.gz|zip)$/i.test(t);

/**
 * Reads `file` and the files it includes with -r/-c, checking every line the way pip would read it. A line
 * that is neither an option nor a PEP 508 requirement nor a path/URL is an error naming the file and line.
 */
export async function readRequirements(file: string, appDir: string, seen = new Map<string, string>(), lines: RequirementLine[] = []): Promise<RequirementsFiles> {
  const abs = resolve(file);
  if (seen.has(abs)) return { files: seen, requirements: lines };
  let content: string;
  try {
    content = await readFile(abs, 'utf8');
  } catch (err) {
    throw new BuildpackError('CONFIG', `${abs}: cannot be read: ${(err as Error).message}`, { cause: err });
  }
  seen.set(abs, content);
  const shown = relative(appDir, abs) || abs;
  for (const { line, text } of logicalLines(content)) {
    const where = `${shown} line ${line}`;
    if (text.startsWith('-')) {
      const m = /^(--?[A-Za-z-]+)(?:[= ]\s*(.*))?$/.exec(text);
      const opt = m?.[1] ?? '';
      if (!m || !(opt in OPTIONS)) throw new BuildpackError('CONFIG', `${where}: "${text}" is not an option pip accepts in a requirements file`);
      const value = m[2]?.trim();
      if (OPTIONS[opt] && !value) throw new BuildpackError('CONFIG', `${where}: ${opt} needs a value`);
      if ((opt === '-r' || opt === '--requirement' || opt === '-c' || opt === '--constraint') && value) {
        await readRequirements(join(dirname(abs), value), appDir, seen, lines);
      }
      continue;
    }
    const requirement = text.replace(TRAILING_OPTIONS, '').trim();
    if (!isLocation(requirement) && !REQUIREMENT.test(requirement)) {
      throw new BuildpackError('CONFIG', `${where}: cannot parse "${text}" as a requirement (PEP 508: name[extras] specifiers ; marker, e.g. "requests>=2.31"), an option or a path/URL`);
    }
    lines.push({ file: abs, line, text: requirement });
  }
  return { files: seen, requirements: lines };
}
