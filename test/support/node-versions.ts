import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { IN_CI } from './tools.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** Where Node runtimes from the npm registry are cached between test runs. */
export const NODE_CACHE = process.env.LADING_NODE_CACHE ?? join(homedir(), '.cache', 'lading', 'node-runtimes');

/**
 * The `node` binary of the latest `major` release, installed from the npm registry's
 * `node-linux-<arch>` package with the user's own npm configuration (registry, CA, auth) and cached.
 * Returns undefined when it cannot be installed outside CI; under CI=true that is an error.
 */
export async function nodeRuntime(major: number): Promise<string | undefined> {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  const prefix = join(NODE_CACHE, `v${major}`);
  const pkg = `node-linux-${process.arch}`;
  const bin = join(prefix, 'node_modules', pkg, 'bin', 'node');
  try {
    if (!existsSync(bin)) {
      await run('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${pkg}@${major}`], {
        timeout: 300_000,
        maxBuffer: 16 << 20,
      });
    }
    const { stdout } = await run(bin, ['--version'], { timeout: 30_000 });
    if (!stdout.startsWith(`v${major}.`)) throw new Error(`${bin} reports ${stdout.trim()}, expected v${major}.x`);
    return bin;
  } catch (err) {
    const msg = `cannot install Node ${major} (${pkg}@${major}) into ${prefix}: ${err instanceof Error ? err.message : String(err)}`;
    if (IN_CI) throw new Error(msg, { cause: err });
    console.warn(`skipping: ${msg}`);
    return undefined;
  }
}

/**
 * Compiles `entries` (repo-relative .ts files) and what they import to plain JS with the project's
 * compiler, under node_modules/.cache so bare imports resolve to the project's packages. Keyed by the
 * content of the .ts files in `sourceDirs`: reruns reuse the output. Returns the output root, which
 * mirrors the repo layout.
 */
export async function compileForNode(entries: readonly string[], sourceDirs: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  const files = sourceDirs.flatMap((d) =>
    readdirSync(join(ROOT, d), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(d, f)),
  );
  for (const f of [...entries, ...files].sort()) hash.update(f).update(readFileSync(join(ROOT, f)));
  const out = join(ROOT, 'node_modules', '.cache', 'lading-compiled', hash.digest('hex').slice(0, 16));
  if (existsSync(join(out, '.done'))) return out;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [
    tsc, '--outDir', out, '--rootDir', ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--types', 'node', '--skipLibCheck',
    ...entries.map((e) => join(ROOT, e)),
  ], { cwd: ROOT, timeout: 300_000 }).catch((err: { stdout?: string }) => {
    throw new Error(`tsc failed for ${entries.join(', ')}: ${err.stdout ?? String(err)}`);
  });
  await run('sh', ['-c', 'touch "$1/.done"', 'sh', out]);
  return out;
}
