import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detectFail, detectPass, type DetectContext, type DetectResult } from '../../lib/index.js';
import { isFile, MARKERS } from './project.js';

/** Passes for requirements.txt, pyproject.toml, setup.py, Pipfile, .python-version, or a Procfile starting a `*.py`. */
export async function detect(ctx: DetectContext): Promise<DetectResult> {
  const pass = () => detectPass({ provides: [{ name: 'cpython' }], requires: [{ name: 'cpython', metadata: { build: true, launch: true } }] });
  for (const f of MARKERS) if (await isFile(join(ctx.appDir, f))) return pass();
  const procfile = await readFile(join(ctx.appDir, 'Procfile'), 'utf8').catch(() => '');
  for (const line of procfile.split(/\r?\n/)) {
    const m = /^\s*[^#:\s]+\s*:\s*(.*)$/.exec(line);
    const py = m?.[1]?.split(/\s+/).find((w) => w.endsWith('.py'));
    if (py && (await isFile(join(ctx.appDir, py)))) return pass();
  }
  return detectFail(`no ${MARKERS.join(', ')} in ${ctx.appDir}, and no Procfile line starting a .py file there`);
}
