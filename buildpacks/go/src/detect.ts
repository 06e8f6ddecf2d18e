import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { detectFail, detectPass, type DetectContext, type DetectResult } from '../../lib/index.js';
import { normaliseTarget } from './targets.js';

/** Passes for a Go module (go.mod at the root), or when BP_GO_TARGETS names packages holding .go files. */
export async function detect(ctx: DetectContext): Promise<DetectResult> {
  const pass = () => detectPass({ provides: [{ name: 'go' }], requires: [{ name: 'go', metadata: { build: true } }] });
  try {
    await access(join(ctx.appDir, 'go.mod'));
    return pass();
  } catch {
    // no go.mod: maybe BP_GO_TARGETS
  }
  const targets = (ctx.config('BP_GO_TARGETS') ?? '').split(':').filter((s) => s.trim() !== '');
  for (const t of targets) {
    let pkg: string;
    try {
      pkg = normaliseTarget(t);
    } catch {
      continue;
    }
    const files = await readdir(join(ctx.appDir, pkg)).catch((): string[] => []);
    if (files.some((f) => f.endsWith('.go'))) return pass();
  }
  return detectFail(targets.length ? `BP_GO_TARGETS (${targets.join(':')}) names no directory with .go files, and there is no go.mod` : 'no go.mod in the app directory');
}
