import { chmod, copyFile, lstat, mkdir, readdir, readlink, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LadingError, NotFoundError } from '../../../registry/oci/index.js';

/** project.toml `include`/`exclude` (gitignore syntax, extensions/project-descriptor.md); at most one is set. */
export interface SourceFilter {
  include?: readonly string[];
  exclude?: readonly string[];
}

interface Rule {
  negated: boolean;
  dirOnly: boolean;
  re: RegExp;
}

/** Compiles gitignore-style patterns: `!` negates, a trailing `/` matches directories only, a `/` anchors. */
export function compilePatterns(patterns: readonly string[]): Rule[] {
  const rules: Rule[] = [];
  for (const raw of patterns) {
    let p = raw.trim();
    if (p === '' || p.startsWith('#')) continue;
    const negated = p.startsWith('!');
    if (negated) p = p.slice(1);
    const dirOnly = p.endsWith('/');
    if (dirOnly) p = p.replace(/\/+$/, '');
    const anchored = p.includes('/');
    p = p.replace(/^\/+/, '');
    if (p === '') continue;
    const body = globToRegex(p);
    rules.push({ negated, dirOnly, re: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`) });
  }
  return rules;
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slashAfter = glob[i + 2] === '/';
      out += slashAfter ? '(?:.*/)?' : '.*';
      i += slashAfter ? 2 : 1;
    } else if (c === '*') {
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) {
        out += '\\[';
      } else {
        out += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      out += escapeRe(glob[++i]!);
    } else {
      out += escapeRe(c);
    }
  }
  return out;
}

function escapeRe(c: string): string {
  return /[.+^${}()|[\]\\]/.test(c) ? `\\${c}` : c;
}

/** The last rule matching `rel` decides; undefined when none matches. */
function decide(rules: readonly Rule[], rel: string, isDir: boolean): boolean | undefined {
  let verdict: boolean | undefined;
  for (const r of rules) if ((!r.dirOnly || isDir) && r.re.test(rel)) verdict = !r.negated;
  return verdict;
}

export interface CopyAppResult {
  files: number;
}

/**
 * Copies the app dir into the build's workspace, honouring project.toml include/exclude: an excluded directory
 * is skipped whole; with `include`, a file is copied when it or a directory above it matches. Symlinks are
 * copied as links, modes kept (the layer writer normalizes them). A missing app dir is NOT_FOUND.
 */
export async function copyAppDir(appDir: string, dest: string, filter: SourceFilter = {}): Promise<CopyAppResult> {
  await checkAppDir(appDir);
  const include = filter.include ? compilePatterns(filter.include) : undefined;
  const exclude = filter.exclude ? compilePatterns(filter.exclude) : [];
  const state = { files: 0 };
  await mkdir(dest, { recursive: true });
  await copyTree(appDir, dest, '', false, { include, exclude }, state);
  return state;
}

/** NOT_FOUND when the app dir is missing, USAGE when it is not a directory. */
export async function checkAppDir(appDir: string): Promise<void> {
  let info;
  try {
    info = await stat(appDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`app directory ${appDir} does not exist`, { cause: err });
    throw new LadingError('IO', `app directory ${appDir}: ${(err as Error).message}`, { cause: err });
  }
  if (!info.isDirectory()) throw new LadingError('USAGE', `app path ${appDir} is not a directory`);
}

async function copyTree(
  src: string, dest: string, rel: string, parentIncluded: boolean,
  rules: { include: Rule[] | undefined; exclude: Rule[] }, state: { files: number },
): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(join(src, rel))).sort();
  } catch (err) {
    throw new LadingError('IO', `${join(src, rel)}: cannot list the app dir: ${(err as Error).message}`, { cause: err });
  }
  for (const name of names) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const from = join(src, path);
    const to = join(dest, path);
    const st = await lstat(from);
    const isDir = st.isDirectory();
    if (decide(rules.exclude, path, isDir) === true) continue;
    const included = rules.include === undefined || parentIncluded || decide(rules.include, path, isDir) === true;
    try {
      if (isDir) {
        if (included) await mkdir(to, { recursive: true, mode: st.mode & 0o7777 });
        await copyTree(src, dest, path, included && rules.include !== undefined, rules, state);
      } else if (!included) {
        continue;
      } else if (st.isSymbolicLink()) {
        await mkdir(join(to, '..'), { recursive: true });
        await symlink(await readlink(from), to);
      } else if (st.isFile()) {
        await mkdir(join(to, '..'), { recursive: true });
        await copyFile(from, to);
        await chmod(to, st.mode & 0o7777);
        state.files++;
      }
      // Sockets, FIFOs and devices are not app source; they are left out.
    } catch (err) {
      throw new LadingError('IO', `${from}: cannot copy into the build's workspace: ${(err as Error).message}`, { cause: err });
    }
  }
}
