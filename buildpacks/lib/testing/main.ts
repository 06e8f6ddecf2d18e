import { runBuild, runDetect, type BuildFunction, type DetectFunction } from '../index.js';
import * as cacher from './cacher.js';
import * as greeter from './greeter.js';
import * as npmFetcher from './npm-fetcher.js';
import * as sbomWriter from './sbom-writer.js';

/** The SDK's fixture buildpacks (test/fixtures/buildpacks/sdk/<name>/), compiled with the rest of buildpacks/. */
export const FIXTURES: Readonly<Record<string, { detect: DetectFunction; build: BuildFunction }>> = {
  greeter,
  cacher,
  'sbom-writer': sbomWriter,
  'npm-fetcher': npmFetcher,
};

/** What a fixture's bin/detect or bin/build calls. */
export async function main(name: string, phase: 'detect' | 'build'): Promise<void> {
  const fixture = FIXTURES[name];
  if (!fixture) {
    process.stderr.write(`ERROR: no SDK fixture buildpack named ${name}\n`);
    process.exitCode = 1;
    return;
  }
  await (phase === 'detect' ? runDetect(fixture.detect) : runBuild(fixture.build));
}
