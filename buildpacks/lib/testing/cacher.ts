import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contributeLayer, detectPass, type BuildContext, type BuildResult, type DetectContext, type DetectResult } from '../index.js';

/** Fixture buildpack "cacher": a cache+build layer keyed by the app's deps.lock, reused through the contributor. */
export async function detect(_ctx: DetectContext): Promise<DetectResult> {
  return detectPass();
}

export async function build(ctx: BuildContext): Promise<BuildResult> {
  const lock = await readFile(join(ctx.appDir, 'deps.lock'), 'utf8').catch(() => '');
  const lockHash = createHash('sha256').update(lock).digest('hex');
  const result = await contributeLayer(
    ctx.layers,
    'deps',
    {
      types: { cache: true, build: true },
      expected: { 'lock-sha256': lockHash, flags: ['--production'] },
      build: async (l) => {
        await writeFile(join(l.path, 'installed.txt'), lock);
        l.metadata['installed-by'] = ctx.buildpack.version;
      },
    },
    ctx.logger,
  );
  // what the test reads back: whether this build reused the restored layer
  await writeFile(join(ctx.appDir, 'cacher-result.txt'), result.reused ? 'reused' : `built: ${result.reason}`);
  return {};
}
