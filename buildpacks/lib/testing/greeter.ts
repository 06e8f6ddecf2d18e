import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contributeLayer, detectFail, detectPass, type BuildContext, type BuildResult, type DetectContext, type DetectResult } from '../index.js';

/**
 * Fixture buildpack "greeter": plan provides/requires, a launch+build layer with a tool, env files in every
 * scope, processes, a label, a slice, store.toml and an unmet entry.
 */
export async function detect(ctx: DetectContext): Promise<DetectResult> {
  const file = join(ctx.appDir, 'greeting.txt');
  try {
    await access(file);
  } catch {
    return detectFail('no greeting.txt in the app');
  }
  const version = ctx.config('BP_GREETER_VERSION') ?? '1.0.0';
  return detectPass({
    provides: [{ name: 'greeting' }],
    requires: [{ name: 'greeting', metadata: { version, launch: true } }],
    or: [{ provides: [{ name: 'greeting' }, { name: 'shout' }], requires: [{ name: 'greeting' }, { name: 'shout' }] }],
  });
}

export async function build(ctx: BuildContext): Promise<BuildResult> {
  const entry = ctx.plan.named('greeting')[0];
  const version = typeof entry?.metadata['version'] === 'string' ? entry.metadata['version'] : '0.0.0';
  const text = (await readFile(join(ctx.appDir, 'greeting.txt'), 'utf8')).trim();
  const { layer } = await contributeLayer(
    ctx.layers,
    'greeter',
    {
      types: { launch: true, build: true },
      expected: { version },
      build: async (l) => {
        await mkdir(join(l.path, 'bin'), { recursive: true });
        const tool = join(l.path, 'bin', 'greet');
        await writeFile(tool, '#!/bin/sh\necho "$GREETING, $1"\n');
        await chmod(tool, 0o755);
        await l.env().default('GREETING', text);
        await l.env('build').override('GREETER_BUILD', '1');
        await l.env('launch').prepend('GREETER_PATH', join(l.path, 'bin'), ':');
        await l.env({ process: 'web' }).append('GREETER_FLAGS', '--web', ' ');
        l.metadata['tool'] = 'bin/greet';
      },
    },
    ctx.logger,
  );
  const builds = typeof ctx.store['builds'] === 'number' ? ctx.store['builds'] : 0;
  return {
    processes: [
      { type: 'web', command: [join(layer.path, 'bin', 'greet')], args: ['world'], default: true, workingDir: ctx.appDir },
      { type: 'shout', command: ['sh', '-c', 'echo "$GREETING" | tr a-z A-Z'] },
    ],
    labels: [{ key: 'io.lading.fixture.greeter', value: version }],
    slices: [{ paths: ['static/*'] }],
    unmet: ctx.plan.has('shout') ? ['shout'] : [],
    store: { builds: builds + 1 },
  };
}
