import { describe, expect, it } from 'vitest';
import { BuildpackCatalog } from './catalog.js';
import { parseBuildpackDescriptor, type BuildpackDescriptor, type Order } from './descriptor.js';
import { detect, DetectError, type DetectInputs, type DetectOutput, type DetectRunner } from './detect.js';

/** Scripted detect results: id → exit code and plan text (or a function of the inputs). */
type Script = Record<string, { code: number; plan?: string; output?: string; delayMs?: number }>;

class FakeRunner implements DetectRunner {
  calls: { id: string; env: Record<string, string> }[] = [];
  active = 0;
  maxActive = 0;
  constructor(private readonly script: Script) {}
  async detect(bp: BuildpackDescriptor, inputs: DetectInputs): Promise<DetectOutput> {
    this.calls.push({ id: bp.info.id, env: inputs.env });
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    const s = this.script[bp.info.id] ?? { code: 100 };
    await new Promise((r) => setTimeout(r, s.delayMs ?? 5));
    this.active--;
    return { code: s.code, output: s.output ?? `${bp.info.id} ran`, planText: s.plan ?? '', planFile: `${bp.info.id} plan` };
  }
}

function catalog(extra: Record<string, string> = {}): BuildpackCatalog {
  const ids = ['A', 'B', 'C', 'D', 'E'];
  const bps = ids.map((id) =>
    parseBuildpackDescriptor(`api = "0.12"\n[buildpack]\nid = "${id}"\nversion = "1.0.0"\nhomepage = "https://${id}.example"\n${extra[id] ?? ''}`, `/bp/${id}/buildpack.toml`, `/bp/${id}`),
  );
  return new BuildpackCatalog(bps);
}

const order = (...groups: string[][]): Order => groups.map((g) => g.map((e) => ({ id: e.replace('?', ''), version: '1.0.0', optional: e.endsWith('?') })));
const base = { appDir: '/workspace', platformDir: '/platform', env: { HOME: '/home/cnb' } };

async function detectError(p: Promise<unknown>): Promise<DetectError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DetectError) return err;
    throw err;
  }
  throw new Error('expected detection to fail');
}

describe('buildpack.md: Phase #1: Detection', () => {
  it('selects the first group whose buildpacks pass, with group.toml fields and the resolved plan', async () => {
    const runner = new FakeRunner({
      A: { code: 100 },
      B: { code: 0, plan: '[[provides]]\nname = "x"\n' },
      C: { code: 0, plan: '[[requires]]\nname = "x"\n[requires.metadata]\nv = "1"\n' },
    });
    const result = await detect(order(['A'], ['B', 'C']), { ...base, source: catalog(), runner });
    expect(result.group).toEqual([
      { id: 'B', version: '1.0.0', api: '0.12', homepage: 'https://B.example' },
      { id: 'C', version: '1.0.0', api: '0.12', homepage: 'https://C.example' },
    ]);
    expect(result.plan).toEqual([{ providers: [{ id: 'B', version: '1.0.0' }], requires: [{ name: 'x', metadata: { v: '1' } }] }]);
    expect(result.runs.map((r) => `${r.id}:${r.status}`)).toEqual(['A:fail', 'B:pass', 'C:pass']);
  });

  it('drops optional buildpacks that fail; the group keeps the others in order', async () => {
    const runner = new FakeRunner({ A: { code: 0 }, B: { code: 100 }, C: { code: 0 } });
    const result = await detect(order(['A', 'B?', 'C']), { ...base, source: catalog(), runner });
    expect(result.group.map((m) => m.id)).toEqual(['A', 'C']);
  });

  it('a group where only optional buildpacks ran and all failed does not pass', async () => {
    const runner = new FakeRunner({});
    const err = await detectError(detect(order(['A?', 'B?']), { ...base, source: catalog(), runner }));
    expect(err.code).toBe('DETECT_NO_GROUP');
  });

  it('runs the detects of a group in parallel, and each buildpack only once per build', async () => {
    const runner = new FakeRunner({ A: { code: 100, delayMs: 30 }, B: { code: 100, delayMs: 30 }, C: { code: 100, delayMs: 30 } });
    await detectError(detect(order(['A', 'B', 'C'], ['A', 'B'], ['C']), { ...base, source: catalog(), runner, concurrency: 8 }));
    expect(runner.maxActive).toBe(3);
    expect(runner.calls.map((c) => c.id).sort()).toEqual(['A', 'B', 'C']);
  });

  it('starts the next group\'s detects alongside, and drops the queued ones once a group is chosen', async () => {
    const runner = new FakeRunner({ A: { code: 0, delayMs: 30 }, B: { code: 100, delayMs: 30 }, C: { code: 0 } });
    const result = await detect(order(['A'], ['B'], ['C']), { ...base, source: catalog(), runner, concurrency: 2 });
    expect(result.group.map((m) => m.id)).toEqual(['A']);
    expect(runner.maxActive).toBe(2);
    // B ran speculatively (and is reported); C, two groups ahead, never started.
    expect(runner.calls.map((c) => c.id)).toEqual(['A', 'B']);
    expect(result.runs.map((r) => `${r.id}:${r.status}`)).toEqual(['A:pass', 'B:fail']);
    const serial = new FakeRunner({ A: { code: 0 }, B: { code: 0 } });
    await detect(order(['A'], ['B']), { ...base, source: catalog(), runner: serial, concurrency: 1 });
    expect(serial.calls.map((c) => c.id)).toEqual(['A']);
  });

  it('a later group that cannot be expanded matters only when detection reaches it', async () => {
    const passing = new FakeRunner({ A: { code: 0 } });
    const result = await detect(order(['A'], ['missing']), { ...base, source: catalog(), runner: passing });
    expect(result.group.map((m) => m.id)).toEqual(['A']);
    const failing = new FakeRunner({ A: { code: 100, delayMs: 20 } });
    await expect(detect(order(['A'], ['missing']), { ...base, source: catalog(), runner: failing })).rejects.toThrow(/missing/);
  });

  it('honours the concurrency limit', async () => {
    const runner = new FakeRunner({ A: { code: 0 }, B: { code: 0 }, C: { code: 0 }, D: { code: 0 } });
    await detect(order(['A', 'B', 'C', 'D']), { ...base, source: catalog(), runner, concurrency: 2 });
    expect(runner.maxActive).toBe(2);
  });

  it('fails with DETECT_NO_GROUP (exit 20) when every group fails without errors', async () => {
    const runner = new FakeRunner({ A: { code: 100, output: 'no package.json' } });
    const err = await detectError(detect(order(['A'], ['B']), { ...base, source: catalog(), runner }));
    expect(err.code).toBe('DETECT_NO_GROUP');
    expect(err.message).toBe('no buildpack group passed detection (2 groups tried: A@1.0.0 fail, B@1.0.0 fail)');
    expect(err.runs.find((r) => r.id === 'A')?.output).toBe('no package.json');
  });

  it('fails with DETECT_ERRORED (exit 21) when no group passed and a buildpack errored', async () => {
    const runner = new FakeRunner({ A: { code: 3, output: 'boom' }, B: { code: 100 } });
    const err = await detectError(detect(order(['A'], ['B']), { ...base, source: catalog(), runner }));
    expect(err.code).toBe('DETECT_ERRORED');
    expect(err.message).toBe('no buildpack group passed detection and buildpack A@1.0.0 errored (exit code 3)');
    expect(err.runs.find((r) => r.id === 'A')).toMatchObject({ status: 'error', code: 3, output: 'boom' });
  });

  it('an erroring optional buildpack does not fail a group that otherwise passes', async () => {
    const runner = new FakeRunner({ A: { code: 0 }, B: { code: 7 } });
    const result = await detect(order(['A', 'B?']), { ...base, source: catalog(), runner });
    expect(result.group.map((m) => m.id)).toEqual(['A']);
    expect(result.runs.find((r) => r.id === 'B')?.status).toBe('error');
  });

  it('a plan with a top-level version key makes the buildpack error', async () => {
    const runner = new FakeRunner({ A: { code: 0, plan: '[[provides]]\nname = "r"\n[[requires]]\nname = "r"\nversion = "3"\n' } });
    const err = await detectError(detect(order(['A']), { ...base, source: catalog(), runner }));
    expect(err.code).toBe('DETECT_ERRORED');
    expect(err.message).toContain('has a "version" key in requires[0] which is not supported');
  });

  it('moves on to the next group when the build plan of a group cannot be resolved', async () => {
    const runner = new FakeRunner({ A: { code: 0, plan: '[[requires]]\nname = "nothing"\n' }, B: { code: 0 } });
    const result = await detect(order(['A'], ['B']), { ...base, source: catalog(), runner });
    expect(result.group.map((m) => m.id)).toEqual(['B']);
  });

  it('fails a non-optional buildpack whose targets do not match the run image', async () => {
    const cat = catalog({ A: '[[targets]]\nos = "linux"\narch = "arm64"\n', B: '[[targets]]\nos = "linux"\narch = "arm64"\n' });
    const runner = new FakeRunner({ A: { code: 0 }, B: { code: 0 }, C: { code: 0 } });
    const target = { os: 'linux', arch: 'amd64' };
    const err = await detectError(detect(order(['A']), { ...base, source: cat, runner, target }));
    expect(err.code).toBe('DETECT_ERRORED');
    expect(err.message).toContain('/bp/A/buildpack.toml: buildpack A@1.0.0 declares no target matching the run image linux/amd64');
    const ok = await detect(order(['B?', 'C']), { ...base, source: cat, runner, target });
    expect(ok.group.map((m) => m.id)).toEqual(['C']);
    expect(runner.calls.map((c) => c.id)).toEqual(['C']);
  });
});

describe('buildpack.md: Provided by the Platform — detect env', () => {
  it('sets user-provided platform env unless the buildpack has clear-env', async () => {
    const cat = catalog({ B: 'clear-env = true' });
    const runner = new FakeRunner({ A: { code: 0 }, B: { code: 0 } });
    await detect(order(['A', 'B']), {
      ...base,
      env: { HOME: '/home/cnb', PATH: '/usr/bin', BP_X: 'host' },
      platformEnv: { BP_X: 'user', PATH: '/opt/user/bin' },
      source: cat,
      runner,
    });
    const envOf = (id: string) => runner.calls.find((c) => c.id === id)!.env;
    expect(envOf('A')).toEqual({ HOME: '/home/cnb', PATH: '/opt/user/bin:/usr/bin', BP_X: 'user' });
    expect(envOf('B')).toEqual({ HOME: '/home/cnb', PATH: '/usr/bin', BP_X: 'host' });
  });

  it('applies operator build-config env after the user values, with clear-env too', async () => {
    const runner = new FakeRunner({ A: { code: 0 } });
    await detect(order(['A']), {
      ...base,
      platformEnv: { BP_LOG: 'debug' },
      buildConfigEnv: [
        { name: 'BP_LOG', action: 'default', value: 'info', file: '/cnb/build-config/env/BP_LOG' },
        { name: 'BP_MIRROR', action: 'default', value: 'https://mirror.example', file: '/cnb/build-config/env/BP_MIRROR' },
      ],
      source: catalog(),
      runner,
    });
    expect(runner.calls[0]!.env).toMatchObject({ BP_LOG: 'debug', BP_MIRROR: 'https://mirror.example' });
  });
});
