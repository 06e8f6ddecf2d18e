import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLadingError, type LadingError } from '../../registry/oci/index.js';
import { hasTool, requireTools } from '../../test/support/tools.js';
import { namespaceIsolation, type Isolation } from './isolation.js';
import { readHostRoot, type BuildDirs } from './mounts.js';
import { availableIsolation, probeIsolation } from './probe.js';

const HAVE_TOOLS = requireTools('bwrap', 'unshare');
const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;
const PATH = '/usr/local/bin:/usr/bin:/bin';
const hostHad = { layers: existsSync('/layers'), workspace: existsSync('/workspace') };

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'lading-isolation-test-'));
  await chmod(base, 0o755);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

let n = 0;
/** A fresh build: app, layers, platform and a buildpack dir, owned by `uid`. */
async function build(uid?: number): Promise<BuildDirs & { layersDir: string; platformDir: string }> {
  const dir = join(base, `build-${n++}`);
  const dirs = { appDir: join(dir, 'app'), layersDir: join(dir, 'layers'), platformDir: join(dir, 'platform'), buildpack: { dir: join(dir, 'bp'), id: 'acme/tool', version: '1.0.0' } };
  for (const d of [dir, dirs.appDir, dirs.layersDir, dirs.platformDir, dirs.buildpack.dir]) {
    await mkdir(d, { recursive: true });
    if (uid !== undefined) await chown(d, uid, uid);
  }
  await writeFile(join(dirs.buildpack.dir, 'marker'), 'buildpack file');
  await writeFile(join(dirs.appDir, 'source.txt'), 'app source');
  return dirs;
}

/** Runs `script` with `/bin/sh` inside the isolation, optionally as the unprivileged user nobody. */
async function runIn(iso: Isolation, dirs: BuildDirs, script: string, opts: { asNobody?: boolean } = {}) {
  const inv = iso.wrap({ file: '/bin/sh', args: ['-c', script], cwd: '/workspace', env: { PATH } }, dirs);
  const [file, args] = opts.asNobody ? ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', inv.file, ...inv.args]] : [inv.file, inv.args];
  return execa(file as string, args as string[], { cwd: inv.cwd, env: inv.env, extendEnv: false, all: true, reject: false, timeout: 30_000 });
}

// The buildpack's view: image paths work, writes land in the build's dirs, the host stays visible.
const SCRIPT = [
  'set -e',
  'echo "pwd=$(pwd) uid=$(id -u)"',
  'cat /workspace/source.txt; echo',
  'cat /cnb/buildpacks/acme_tool/1.0.0/marker; echo',
  'test -d /platform',
  'test -x /usr/bin/env && echo host-visible',
  'mkdir -p /layers/acme_tool/tool/bin',
  'printf "#!/bin/sh\\necho tool\\n" > /layers/acme_tool/tool/bin/tool',
  'chmod +x /layers/acme_tool/tool/bin/tool',
  '/layers/acme_tool/tool/bin/tool',
  'echo built > /workspace/out.txt',
].join('\n');

async function expectBuildLanded(dirs: BuildDirs & { layersDir: string }, output: string, uid: string) {
  expect(output.split('\n')).toEqual([`pwd=/workspace uid=${uid}`, 'app source', 'buildpack file', 'host-visible', 'tool']);
  expect(await readFile(join(dirs.layersDir, 'acme_tool', 'tool', 'bin', 'tool'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
  expect(await readFile(join(dirs.appDir, 'out.txt'), 'utf8')).toBe('built\n');
  expect({ layers: existsSync('/layers'), workspace: existsSync('/workspace') }).toEqual(hostHad);
}

describe.skipIf(!HAVE_TOOLS)('design.md §1 — private /workspace and /layers without root (real namespaces)', () => {
  it('the probe picks bubblewrap when it works, once per process', async () => {
    const first = await availableIsolation();
    expect(first.mechanism).toBe('bwrap');
    expect(await availableIsolation()).toBe(first);
  });

  it('remembers a passing trial in memoDir and runs it again when the tool changes or the memo is damaged', async () => {
    const dir = await mkdtemp(join(base, 'memo-'));
    const log = join(dir, 'runs.log');
    const bwrap = join(dir, 'bwrap');
    const real = (await execa('sh', ['-c', 'command -v bwrap'])).stdout.trim();
    const wrapper = (extra: string) => writeFile(bwrap, `#!/bin/sh\necho run >> ${log}\n${extra}exec ${real} "$@"\n`, { mode: 0o755 });
    const runs = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    await wrapper('');
    const probe = () => probeIsolation({ mechanisms: ['bwrap'], tools: { bwrap }, memoDir: join(dir, 'memo') });
    expect((await probe()).mechanism).toBe('bwrap');
    expect(await runs()).toBe(1);
    expect((await probe()).mechanism).toBe('bwrap');
    expect(await runs()).toBe(1); // remembered
    await wrapper('# another build of the tool\n');
    await probe();
    expect(await runs()).toBe(2);
    await writeFile(join(dir, 'memo', 'isolation-probe.json'), '{not json');
    await probe();
    expect(await runs()).toBe(3);
    await probe();
    expect(await runs()).toBe(3);
    // a failing trial is not remembered
    const failing = join(dir, 'memo-failing');
    await probeIsolation({ mechanisms: ['bwrap'], tools: { bwrap: '/bin/false' }, memoDir: failing }).catch(() => undefined);
    expect(existsSync(join(failing, 'isolation-probe.json'))).toBe(false);
  });

  for (const mechanism of ['bwrap', 'unshare'] as const) {
    describe(mechanism, () => {
      let iso: Isolation;
      beforeAll(async () => {
        iso = await probeIsolation({ mechanisms: [mechanism] });
      });

      it(`as ${IS_ROOT ? 'root' : 'this user'}: image paths resolve to the build's own dirs; the host's / is untouched`, async () => {
        const dirs = await build();
        const run = await runIn(iso, dirs, SCRIPT);
        expect(run.exitCode, run.all).toBe(0);
        await expectBuildLanded(dirs, run.all, String(process.getuid?.()));
      });

      it.skipIf(!IS_ROOT || !hasTool('setpriv'))('as the unprivileged user nobody (uid 65534), through a user namespace', async () => {
        const scratchDir = join(base, `scratch-${mechanism}`);
        await mkdir(scratchDir, { mode: 0o755 });
        await chown(scratchDir, NOBODY, NOBODY);
        const unprivileged = namespaceIsolation({ mechanism, tool: mechanism === 'bwrap' ? 'bwrap' : 'unshare', root: readHostRoot(), scratchDir, asRoot: false });
        const dirs = await build(NOBODY);
        const run = await runIn(unprivileged, dirs, SCRIPT, { asNobody: true });
        expect(run.exitCode, run.all).toBe(0);
        // bwrap keeps the user's uid; the unshare fallback maps the user to root of its namespace.
        await expectBuildLanded(dirs, run.all, mechanism === 'bwrap' ? String(NOBODY) : '0');
        const denied = await runIn(unprivileged, dirs, 'touch /usr/lading-must-not-write', { asNobody: true });
        expect(denied.exitCode).not.toBe(0);
        expect(existsSync('/usr/lading-must-not-write')).toBe(false);
      });

      it('two builds at once each see their own /layers', async () => {
        const rendezvous = join(base, `rv-${mechanism}`);
        await mkdir(rendezvous);
        const [a, b] = [await build(), await build()];
        // Each announces itself and waits (bounded) for the other, so both are alive at the same time.
        const script = (me: string, other: string) =>
          `echo ${me} > /layers/owner; touch ${rendezvous}/${me}; i=0; while [ ! -e ${rendezvous}/${other} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; test -e ${rendezvous}/${other}; cat /layers/owner; ls /layers`;
        const [ra, rb] = await Promise.all([runIn(iso, a, script('a', 'b')), runIn(iso, b, script('b', 'a'))]);
        expect([ra.exitCode, rb.exitCode], `${ra.all}\n${rb.all}`).toEqual([0, 0]);
        expect(ra.all).toBe('a\nowner');
        expect(rb.all).toBe('b\nowner');
        expect(await readFile(join(a.layersDir, 'owner'), 'utf8')).toBe('a\n');
        expect(await readFile(join(b.layersDir, 'owner'), 'utf8')).toBe('b\n');
      });
    });
  }
});

describe('design.md §1 — when user namespaces are unavailable', () => {
  it('names each mechanism’s failure and the --workspace/--layers-dir fallback (UNSUPPORTED)', async () => {
    const err = (await probeIsolation({ tools: { bwrap: '/bin/false' }, searchPath: join(tmpdir(), 'lading-no-such-dir') }).catch((e: unknown) => e)) as LadingError;
    expect(isLadingError(err)).toBe(true);
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toMatch(/^cannot give buildpacks a private \/workspace and \/layers: user namespaces are unavailable \(bwrap \(\/bin\/false\): exit code 1; unshare: not installed\)/);
    expect(err.message).toContain('pass --workspace DIR and --layers-dir DIR to build without a namespace (those paths then appear in the image)');
  });
});
