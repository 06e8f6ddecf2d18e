import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinDetect, HANDED_TO_NODE, type DetectCase } from '../../../test/support/bin-detect.js';

describe('bin/detect', () => {
  const bin = new BinDetect(join(import.meta.dirname, '..'));
  beforeAll(() => bin.init());
  afterAll(() => bin.dispose());

  it('passes without node for a marker file, writing the plan detect.ts writes', async () => {
    const markers = [['package.json'], ['server.js'], ['app.js'], ['index.js'], ['package.json/', 'index.js']];
    await bin.expectCases(markers.flatMap((files) => [true, false].map((viaEnv): [string, DetectCase, number] => [`${files} viaEnv=${viaEnv}`, { files, viaEnv }, 0])), 'answered');
  });

  it('leaves everything else to detect.ts', async () => {
    await bin.expectCases([
      ['no marker', { files: ['main.go', 'package.json/'] }, 100],
      ['BP_NODE_PROJECT_PATH in the environment', { files: ['apps/web/package.json'], env: { BP_NODE_PROJECT_PATH: 'apps/web' } }, 0],
      ['BP_NODE_PROJECT_PATH set empty', { files: ['package.json'], env: { BP_NODE_PROJECT_PATH: '' } }, 0],
      ['BP_NODE_PROJECT_PATH in the platform env dir', { files: ['package.json', 'apps/web/server.js'], platformEnv: { BP_NODE_PROJECT_PATH: 'apps/web' } }, 0],
      ['a project path outside the app', { files: ['package.json'], env: { BP_NODE_PROJECT_PATH: '../elsewhere' } }, 1],
      ['a plan path it cannot write', { files: ['package.json'], planIn: 'missing' }, 1],
    ], 'handed to node');
  });

  it('leaves a missing platform dir or plan path to detect.ts', async () => {
    expect(await bin.withoutInputs(['package.json'])).toEqual(HANDED_TO_NODE);
  });
});
