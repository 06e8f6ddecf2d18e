import { BuildpackError } from '../../lib/index.js';

/** Whether a yarn.lock is berry's YAML format (yarn 2 and later) rather than the classic v1 format. */
export function isBerryLock(text: string): boolean {
  return /^__metadata:\s*$/m.test(text);
}

/**
 * `name@version` → integrity (sha512 SRI) from a classic (v1) yarn.lock. Entry headers are the
 * comma-separated specs of one package (`"@scope/a@^1", "@scope/a@~1.2":`); the fields are indented two spaces.
 */
export function classicIntegrity(text: string, file: string): Record<string, string> {
  if (isBerryLock(text)) throw new BuildpackError('CONFIG', `${file}: this is a yarn 2+ lockfile, not a yarn classic (v1) one`);
  const out: Record<string, string> = {};
  let name: string | undefined;
  let version: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (!line.startsWith(' ')) {
      const spec = line.replace(/:\s*$/, '').split(',')[0]!.trim().replace(/^"(.*)"$/, '$1');
      const at = spec.lastIndexOf('@');
      name = at > 0 ? spec.slice(0, at) : spec;
      version = undefined;
      continue;
    }
    const m = /^ {2}(version|integrity) "?([^"\s]+)"?\s*$/.exec(line);
    if (!m || !name) continue;
    if (m[1] === 'version') version = m[2];
    else if (version) out[`${name}@${version}`] = m[2]!;
  }
  return out;
}
