import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinDetect, HANDED_TO_NODE, type DetectCase } from '../../../test/support/bin-detect.js';

describe('bin/detect', () => {
  const bin = new BinDetect(join(import.meta.dirname, '..'));
  beforeAll(() => bin.init());
  afterAll(() => bin.dispose());

  it('answers a go.mod, or its absence without BP_GO_TARGETS, without node, as detect.ts does', async () => {
    const cases: Array<[DetectCase, number]> = [
      [{ files: ['go.mod'] }, 0],
      [{ files: ['go.mod/', 'main.go'] }, 0],
      [{ files: ['go.mod'], viaEnv: false }, 0],
      [{ files: ['package.json'] }, 100],
      [{ files: ['cmd/app/main.go'], viaEnv: false }, 100],
    ];
    for (const [c, code] of cases) {
      const { script, ts, stubbed } = await bin.all(c);
      expect(ts.code, `${c.files} ${ts.stdout}${ts.stderr}`).toBe(code);
      expect(script).toEqual(ts);
      expect(stubbed).toEqual(ts);
    }
  });

  it('leaves BP_GO_TARGETS, a plan it cannot write and missing inputs to detect.ts', async () => {
    const cases: Array<[string, DetectCase, number]> = [
      ['BP_GO_TARGETS in the environment', { files: ['cmd/app/main.go'], env: { BP_GO_TARGETS: './cmd/app' } }, 0],
      ['BP_GO_TARGETS naming no Go files', { files: ['cmd/app/README'], env: { BP_GO_TARGETS: './cmd/app' } }, 100],
      ['BP_GO_TARGETS in the platform env dir', { files: ['cmd/app/main.go'], platformEnv: { BP_GO_TARGETS: './cmd/app' } }, 0],
      ['a plan path it cannot write', { files: ['go.mod'], planIn: 'missing' }, 1],
    ];
    for (const [what, c, code] of cases) {
      const { script, ts, stubbed } = await bin.all(c);
      expect(ts.code, `${what}: ${ts.stdout}${ts.stderr}`).toBe(code);
      expect(script, what).toEqual(ts);
      expect(stubbed, what).toEqual(HANDED_TO_NODE);
    }
    expect(await bin.withoutInputs(['go.mod'])).toEqual(HANDED_TO_NODE);
  });
});
