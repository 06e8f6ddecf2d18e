import { execa } from 'execa';
import { BuildpackError } from '../../lib/index.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Compiles every .py under `dirs` to `__pycache__/*.pyc` with unchecked-hash invalidation (PEP 552): the pyc
 * holds the source's hash instead of its mtime and is never re-checked, so the same sources give the same bytes
 * wherever and whenever they are built, and nothing is written at run time. Files that do not compile (Python 2
 * leftovers in some distributions) are left without a pyc, as pip and Debian's py3compile do.
 */
export async function compileBytecode(python: string, dirs: readonly string[], env: Env): Promise<void> {
  if (dirs.length === 0) return;
  const r = await execa(python, ['-m', 'compileall', '-q', '-j', '0', '--invalidation-mode', 'unchecked-hash', ...dirs], {
    // PYTHONDONTWRITEBYTECODE: the modules compileall itself imports would otherwise get timestamp pycs (recording
    // their sources' mtimes) first, which compileall then keeps as current. py_compile writes regardless.
    env: { ...env, SOURCE_DATE_EPOCH: env['SOURCE_DATE_EPOCH'] ?? '315532801', PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1' },
    extendEnv: false,
    reject: false,
    timeout: 900_000,
  });
  if (r.exitCode !== 0 && r.exitCode !== 1) {
    throw new BuildpackError('BUILD_FAILED', `compiling bytecode in ${dirs.join(', ')} failed (exit ${String(r.exitCode)}): ${String(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`);
  }
}
