import { BuildpackError, shellWords } from '../../lib/index.js';

export interface BuildFlagInputs {
  /** BP_GO_BUILD_FLAGS */
  flags?: string | undefined;
  /** BP_GO_BUILD_LDFLAGS: wins over an -ldflags in BP_GO_BUILD_FLAGS. */
  ldflags?: string | undefined;
  /** vendor/modules.txt exists and no -mod was given. */
  vendored: boolean;
}

/**
 * The `go build` flags: `-trimpath -buildvcs=false` and an empty build ID (`-ldflags=-buildid=`) for binaries
 * that are byte-identical on every machine; the user's flags merged in (a user value replaces the default
 * of the same flag); `-mod=vendor` when vendor/ is there.
 */
export function buildFlags(inputs: BuildFlagInputs): string[] {
  const user = shellWords(inputs.flags ?? '', 'BP_GO_BUILD_FLAGS');
  const named = new Map<string, string | undefined>();
  const order: string[] = [];
  const set = (name: string, value: string | undefined) => {
    if (!named.has(name)) order.push(name);
    named.set(name, value);
  };
  set('-trimpath', undefined);
  set('-buildvcs', 'false');
  for (let i = 0; i < user.length; i++) {
    const w = user[i] as string;
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(w);
    if (!m) throw new BuildpackError('CONFIG', `BP_GO_BUILD_FLAGS: "${w}" is not a flag (packages to build go in BP_GO_TARGETS)`);
    const name = `-${m[1]}`;
    if (name === '-o') throw new BuildpackError('CONFIG', 'BP_GO_BUILD_FLAGS: -o is set by the buildpack (one binary per target in the launch layer)');
    let value = m[2];
    // Flags that take a separate value: everything but the booleans go build knows.
    if (value === undefined && !BOOLEAN.has(name) && i + 1 < user.length && !(user[i + 1] as string).startsWith('-')) value = user[++i];
    set(name, value);
  }
  let ld = named.get('-ldflags') ?? '';
  if (inputs.ldflags !== undefined && inputs.ldflags.trim() !== '') ld = inputs.ldflags.trim();
  if (!/(^|\s)-buildid[= ]/.test(ld)) ld = ld ? `${ld} -buildid=` : '-buildid=';
  set('-ldflags', ld);
  if (inputs.vendored && !named.has('-mod')) set('-mod', 'vendor');
  set('-modcacherw', undefined);
  return order.map((n) => (named.get(n) === undefined ? n : `${n}=${named.get(n)}`));
}

const BOOLEAN = new Set(['-a', '-n', '-race', '-msan', '-asan', '-v', '-work', '-x', '-trimpath', '-linkshared', '-modcacherw', '-buildvcs', '-cover']);
