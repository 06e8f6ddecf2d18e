import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinDetect, HANDED_TO_NODE } from '../../../test/support/bin-detect.js';

describe('bin/detect', () => {
  const bin = new BinDetect(join(import.meta.dirname, '..'));
  beforeAll(() => bin.init());
  afterAll(() => bin.dispose());

  it('answers a go.mod, or its absence without BP_GO_TARGETS, without node, as detect.ts does', async () => {
    await bin.expectCases([
      ['go.mod', { files: ['go.mod'] }, 0],
      ['go.mod a directory', { files: ['go.mod/', 'main.go'] }, 0],
      ['inputs as arguments', { files: ['go.mod'], viaEnv: false }, 0],
      ['no go.mod', { files: ['package.json'] }, 100],
      ['Go files without go.mod', { files: ['cmd/app/main.go'], viaEnv: false }, 100],
    ], 'answered');
  });

  it('leaves BP_GO_TARGETS, a plan it cannot write and missing inputs to detect.ts', async () => {
    await bin.expectCases([
      ['BP_GO_TARGETS in the environment', { files: ['cmd/app/main.go'], env: { BP_GO_TARGETS: './cmd/app' } }, 0],
      ['BP_GO_TARGETS naming no Go files', { files: ['cmd/app/README'], env: { BP_GO_TARGETS: './cmd/app' } }, 100],
      ['BP_GO_TARGETS in the platform env dir', { files: ['cmd/app/main.go'], platformEnv: { BP_GO_TARGETS: './cmd/app' } }, 0],
      ['a plan path it cannot write', { files: ['go.mod'], planIn: 'missing' }, 1],
    ], 'handed to node');
    expect(await bin.withoutInputs(['go.mod'])).toEqual(HANDED_TO_NODE);
  });
});
