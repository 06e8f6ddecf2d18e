import { join } from 'node:path';
import { detectFail, detectPass, type DetectContext, type DetectResult } from '../../lib/index.js';
import { isFile, projectDir, SCRIPT_ENTRIES } from './project.js';

/** Passes for a directory with package.json, or a script-only app (server.js, app.js or index.js). */
export async function detect(ctx: DetectContext): Promise<DetectResult> {
  const dir = projectDir(ctx.appDir, ctx.config('BP_NODE_PROJECT_PATH'));
  const markers = ['package.json', ...SCRIPT_ENTRIES];
  for (const f of markers) {
    if (await isFile(join(dir, f))) {
      return detectPass({ provides: [{ name: 'node' }], requires: [{ name: 'node', metadata: { build: true, launch: true } }] });
    }
  }
  return detectFail(`no ${markers.join(', ')} in ${dir}`);
}

