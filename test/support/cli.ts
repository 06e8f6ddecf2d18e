import { Writable } from 'node:stream';
import { run } from '../../lifecycle/cli/main.js';
import { expectValidLayoutSboms, expectValidSbomDir, sbomOutputDirOf } from './sbom-check.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

function collector(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      (w as unknown as { text: string }).text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

/** `oci:DIR[:TAG]` → DIR (the layout a successful `lading build` wrote). */
function layoutOf(image: string | undefined): string | undefined {
  const m = image ? /^oci:([^:]+)(?::[^:]*)?$/.exec(image) : null;
  return m?.[1];
}

/**
 * Runs the CLI in-process with captured output and the given extra environment. Every SBOM a successful
 * `lading build` wrote is validated (issue #7: CI validates every SBOM the tests produce): the
 * `--sbom-output-dir` tree and, for an `oci:` destination, the layout's referrers and CNB SBOM layers. Images
 * pushed to the test registry are validated when the registry stops (test/support/registry.ts).
 */
export async function lading(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const stdout = collector();
  const stderr = collector();
  const code = await run(args, { stdout, stderr, env: { ...process.env, ...env } });
  if (code === 0 && args[0] === 'build') {
    const dir = sbomOutputDirOf(args);
    if (dir) await expectValidSbomDir(dir);
    const layout = layoutOf(args.slice(1).find((a) => !a.startsWith('-')));
    if (layout) await expectValidLayoutSboms(layout);
  }
  return {
    code,
    stdout: stdout.text,
    stderr: stderr.text,
    json: <T,>() => JSON.parse(stdout.text) as T,
  };
}
