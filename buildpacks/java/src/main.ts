import { runBuild, runDetect } from '../../lib/index.js';
import { build } from './build.js';
import { detect } from './detect.js';

export { build, detect };

/** The entry bin/detect and bin/build call after loading the bundle. */
export async function main(phase: 'detect' | 'build'): Promise<void> {
  await (phase === 'detect' ? runDetect(detect) : runBuild(build));
}
