import { execFileSync } from 'node:child_process';

/** True under CI, where a missing tool must fail loudly instead of skipping (testing.md). */
export const IN_CI = process.env.CI === 'true';

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns true when every tool is on PATH. Outside CI a missing tool returns false (the caller skips with
 * `describe.skipIf(!requireTools(...))`); under CI=true it throws with a clear message instead.
 */
export function requireTools(...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  const msg = `missing system tool(s): ${missing.join(', ')} — .ci/run installs them (apt-get install docker-registry skopeo umoci runc ...)`;
  if (IN_CI) throw new Error(msg);
  console.warn(`skipping: ${msg}`);
  return false;
}
