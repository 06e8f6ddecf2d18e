import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { BuildpackError, contributeLayer, isTable, type BuildContext, type Layer, type SbomComponent, type TomlTable } from '../../lib/index.js';
import { compileBytecode } from './bytecode.js';
import { installedDistributions } from './distributions.js';
import type { Interpreter, PipToolchain } from './interpreter.js';
import { isInstallable, type PythonProject } from './project.js';
import { readRequirements } from './requirements.js';

/** The user's pip configuration variables (forwarded by the platform, or set with `-e`): they reach pip as they are. */
export const PIP_VARIABLES = ['PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_FIND_LINKS', 'PIP_NO_INDEX', 'PIP_TRUSTED_HOST', 'PIP_CERT', 'PIP_CONFIG_FILE', 'PIP_PRE', 'PIP_ONLY_BINARY', 'PIP_PREFER_BINARY'] as const;

/** Where pip reads configuration besides PIP_CONFIG_FILE (pip's own order; the ones that exist are hashed). */
function pipConfigFiles(env: Readonly<Record<string, string | undefined>>): string[] {
  const home = env['HOME'];
  const xdg = env['XDG_CONFIG_HOME'] ?? (home ? join(home, '.config') : undefined);
  return ['/etc/pip.conf', '/etc/xdg/pip/pip.conf', ...(home ? [join(home, '.pip', 'pip.conf')] : []), ...(xdg ? [join(xdg, 'pip', 'pip.conf')] : []), ...(env['PIP_CONFIG_FILE'] ? [env['PIP_CONFIG_FILE']] : [])];
}

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

/** Files that never change what pip installs from a source tree. */
const SKIPPED = new Set(['.git', '__pycache__', '.venv', 'venv', 'build', 'dist', '.tox', '.mypy_cache', '.pytest_cache', 'node_modules']);

/** sha256 over the relative paths, kinds and contents of a tree, sorted (for the installed project's key). */
export async function treeChecksum(root: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (SKIPPED.has(e.name) || e.name.endsWith('.egg-info') || e.name.endsWith('.pyc')) continue;
      const p = join(dir, e.name);
      const rel = relative(root, p);
      if (e.isDirectory()) {
        h.update(`d ${rel}\0`);
        await walk(p);
      } else if (e.isFile()) h.update(`f ${rel} ${(await stat(p)).mode & 0o111 ? 'x' : '-'} ${sha256(await readFile(p))}\0`);
      else if (e.isSymbolicLink()) h.update(`l ${rel}\0`);
    }
  };
  await walk(root);
  return h.digest('hex');
}

/**
 * Local --find-links directories by their files' names and contents (a new wheel there changes the install);
 * URLs as they are. Directory paths stay out: they are the build machine's, and the key ends up in a label.
 */
async function findLinksKey(links: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const l of links) {
    const dir = l.replace(/^file:\/\//, '');
    const files = await readdir(dir).catch(() => undefined);
    if (!files) {
      out.push(l);
      continue;
    }
    for (const f of files.sort()) {
      const p = join(dir, f);
      if ((await stat(p)).isFile()) out.push(`${f} ${sha256(await readFile(p))}`);
    }
  }
  return out.sort();
}

/** Pipfile `[packages]` as requirement lines (name and version; extras and markers kept); VCS/path entries are refused. */
export function pipfileRequirements(pipfile: TomlTable, file: string): string[] {
  const packages = pipfile['packages'];
  if (packages === undefined) return [];
  if (!isTable(packages)) throw new BuildpackError('CONFIG', `${file}: [packages] must be a table`);
  return Object.entries(packages).map(([name, spec]) => {
    const version = (v: string) => (v.trim() === '*' || v.trim() === '' ? '' : /^\d/.test(v.trim()) ? `==${v.trim()}` : v.trim());
    if (typeof spec === 'string') return `${name}${version(spec)}`;
    if (isTable(spec)) {
      if (spec['path'] !== undefined || spec['git'] !== undefined || spec['file'] !== undefined) {
        throw new BuildpackError('CONFIG', `${file}: [packages] ${name}: path, file and git entries are not supported; list the package in requirements.txt instead`);
      }
      const extras = Array.isArray(spec['extras']) && spec['extras'].length ? `[${spec['extras'].join(',')}]` : '';
      const v = typeof spec['version'] === 'string' ? version(spec['version']) : '';
      const markers = typeof spec['markers'] === 'string' ? ` ; ${spec['markers']}` : '';
      return `${name}${extras}${v}${markers}`;
    }
    throw new BuildpackError('CONFIG', `${file}: [packages] ${name}: expected a version string or a table`);
  });
}

export interface InstalledPackages {
  layer?: Layer;
  /** Whether pip ran in this build. */
  installed: boolean;
  components: SbomComponent[];
  /** Normalised names of the installed distributions. */
  distributions: string[];
  /** Console scripts in the layer's bin directory (absolute paths in the image). */
  scripts: Record<string, string>;
  /** pip, setuptools, wheel and what they need, for the build SBOM (empty when pip was not needed). */
  toolchain: SbomComponent[];
}

/**
 * The `packages` layer (launch): requirements.txt, Pipfile [packages] and the project itself (pyproject.toml or
 * setup.py, built with the toolchain's setuptools without build isolation) installed with pip under the layer,
 * bytecode compiled deterministically. Reused, without running pip, while the requirement files (and the files
 * they include), the project's sources when it is installed, the interpreter, pip and the user's pip
 * configuration are unchanged. pip's cache is the `pip-cache` layer (cache).
 */
export async function installPackages(ctx: BuildContext, project: PythonProject, interp: Interpreter, toolchain: () => Promise<PipToolchain>): Promise<InstalledPackages> {
  const app = project.dir;
  const requirementsFile = project.requirements !== undefined ? join(app, 'requirements.txt') : undefined;
  const reqs = requirementsFile ? await readRequirements(requirementsFile, app) : undefined;
  const pipfileLines = project.pipfile && !requirementsFile ? pipfileRequirements(project.pipfile, join(app, 'Pipfile')) : [];
  const installProject = isInstallable(project);
  if (!reqs && !installProject && pipfileLines.length === 0) {
    ctx.logger.info('No requirements.txt, Pipfile packages, pyproject.toml project or setup.py: nothing for pip to install');
    return { installed: false, components: [], distributions: [], scripts: {}, toolchain: [] };
  }
  // Declared on every build that installs, also when the packages layer is reused, so it stays cached.
  const pip = await toolchain();

  const pipEnv: Record<string, string> = {};
  for (const k of PIP_VARIABLES) {
    const v = ctx.config(k);
    if (v !== undefined) pipEnv[k] = v;
  }
  const findLinks = (ctx.config('BP_PIP_FIND_LINKS') ?? '').split(/\s+/).filter((s) => s !== '');
  const configs: string[] = [];
  for (const f of pipConfigFiles({ ...ctx.env, ...pipEnv })) {
    const c = await readFile(f, 'utf8').catch(() => undefined);
    if (c !== undefined) configs.push(sha256(c));
  }
  const cache = await ctx.layers.layer('pip-cache', { cache: true });
  await mkdir(cache.path, { recursive: true });

  const expected: TomlTable = {
    interpreter: interp.key,
    pip: pip.key,
    requirements: reqs ? [...reqs.files].map(([f, c]) => `${relative(app, f) || f} ${sha256(c)}`) : [],
    pipfile: pipfileLines,
    project: installProject ? await treeChecksum(app) : '',
    // One digest of the pip settings: their values hold host paths (find-links, config files) that must not
    // reach the image's labels, while the contents they name must still decide reuse.
    'pip-settings': sha256(
      JSON.stringify({
        env: Object.entries(pipEnv).filter(([k]) => k !== 'PIP_FIND_LINKS' && k !== 'PIP_CONFIG_FILE').map(([k, v]) => `${k}=${v}`),
        findLinks: await findLinksKey([...findLinks, ...(pipEnv['PIP_FIND_LINKS'] ?? '').split(/\s+/).filter((s) => s !== '')]),
        configs,
        buildIsolation: ctx.config('BP_PIP_BUILD_ISOLATION') ?? '',
      }),
    ),
  };

  const { layer, reused } = await contributeLayer(
    ctx.layers,
    'packages',
    {
      types: { launch: true },
      expected,
      build: async (l) => {
        const work = await mkdtemp(join(tmpdir(), 'lading-python-'));
        try {
          // The project is built from a copy: setuptools writes build/ and *.egg-info next to the sources.
          let cwd = app;
          if (installProject) {
            cwd = join(work, 'src');
            await cp(app, cwd, { recursive: true, filter: (src) => !SKIPPED.has(src.split('/').pop() ?? '') || src === app });
          }
          const args = ['-m', 'pip', 'install', '--prefix', l.path, '--no-compile', '--no-warn-script-location', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off'];
          if (ctx.config('BP_PIP_BUILD_ISOLATION') !== 'true') args.push('--no-build-isolation');
          for (const f of findLinks) args.push('--find-links', f);
          if (reqs) args.push('-r', 'requirements.txt');
          if (pipfileLines.length) {
            const f = join(work, 'Pipfile-requirements.txt');
            await writeFile(f, `${pipfileLines.join('\n')}\n`);
            args.push('-r', f);
          }
          if (installProject) args.push('.');
          const env: Record<string, string | undefined> = {
            ...ctx.env,
            ...pipEnv,
            ...interp.env,
            PYTHONPATH: pip.pythonPath.join(':'),
            PIP_CACHE_DIR: cache.path,
            PIP_ROOT_USER_ACTION: 'ignore',
            SOURCE_DATE_EPOCH: ctx.env['SOURCE_DATE_EPOCH'] ?? '315532801',
            PYTHONDONTWRITEBYTECODE: '1',
          };
          ctx.logger.info(`  pip install ${args.slice(3).map((a) => (a.startsWith(work) ? relative(work, a) : a)).join(' ')}`);
          const r = await execa(interp.python, args, { cwd, env, extendEnv: false, reject: false, all: true, timeout: 1_800_000 });
          for (const line of String(r.all ?? '').split('\n')) if (line.trim() !== '') ctx.logger.info(`    ${line}`);
          if (r.exitCode !== 0) {
            const errors = String(r.all ?? '').split('\n').filter((line) => /^ERROR:|error:/i.test(line.trim()));
            const detail = (errors.length ? errors : String(r.all ?? '').trim().split('\n').slice(-5)).join('\n');
            throw new BuildpackError('BUILD_FAILED', `pip install failed (exit ${String(r.exitCode)}) for ${requirementsFile ?? join(app, 'pyproject.toml')}:\n${detail}`);
          }
          const paths = await schemePaths(interp, l.path);
          // PEP 610 records where a local project came from: here a temporary copy, which would vary per build.
          for (const d of await readdir(paths.purelib).catch((): string[] => [])) {
            if (d.endsWith('.dist-info') && installProject) await rm(join(paths.purelib, d, 'direct_url.json'), { force: true });
          }
          await compileBytecode(interp.python, [...new Set([paths.purelib, paths.platlib])], { ...ctx.env, ...interp.env });
          const dists = await installedDistributions(paths.purelib);
          const scripts: Record<string, string> = {};
          for (const s of (await readdir(paths.scripts).catch((): string[] => [])).sort()) scripts[s] = join(paths.scripts, s);
          l.metadata['components'] = JSON.stringify(dists.map((d) => d.component));
          l.metadata['distributions'] = dists.map((d) => d.name);
          l.metadata['scripts'] = JSON.stringify(scripts);
          for (const dir of [...new Set([paths.platlib, paths.purelib])]) await l.env().prepend('PYTHONPATH', dir, ':');
          await l.env().prepend('PATH', paths.scripts, ':');
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      },
    },
    ctx.logger,
  );
  const components = JSON.parse(typeof layer.metadata['components'] === 'string' ? layer.metadata['components'] : '[]') as SbomComponent[];
  await layer.writeSbom(components);
  const distributions = Array.isArray(layer.metadata['distributions']) ? layer.metadata['distributions'].map(String) : [];
  const scripts = JSON.parse(typeof layer.metadata['scripts'] === 'string' ? layer.metadata['scripts'] : '{}') as Record<string, string>;
  return { layer, installed: !reused, components, distributions, scripts, toolchain: pip.components };
}

/** Where pip puts files under `--prefix base` for this interpreter (sysconfig's default scheme; Debian adds local/). */
async function schemePaths(interp: Interpreter, base: string): Promise<{ purelib: string; platlib: string; scripts: string }> {
  const code = 'import json,sys,sysconfig; b=sys.argv[1]; p=sysconfig.get_paths(vars={"base": b, "platbase": b}); print(json.dumps({k: p[k] for k in ("purelib", "platlib", "scripts")}))';
  const r = await execa(interp.python, ['-c', code, base], { env: interp.env, extendEnv: false, reject: false });
  if (r.exitCode !== 0) throw new BuildpackError('BUILD_FAILED', `asking ${interp.python} for its install scheme failed: ${String(r.stderr).trim()}`);
  return JSON.parse(String(r.stdout)) as { purelib: string; platlib: string; scripts: string };
}
