import yargs from 'yargs';
import { LadingError } from '../../registry/oci/index.js';
import { makeContext, type GlobalArgs } from './context.js';
import type { Terminal } from './output.js';
import { copyCommand } from './commands/copy.js';
import { inspectCommand } from './commands/inspect.js';
import { imagesCommand } from './commands/images.js';
import { pushCommand } from './commands/push.js';
import { stackCommand } from './commands/stack.js';
import { rebaseCommand } from './commands/rebase.js';
import { buildCommand } from './commands/build.js';
import { signCommand } from './commands/sign.js';
import { verifyCommand } from './commands/verify.js';
import { keygenCommand } from './commands/keygen.js';
import { sbomCommand } from './commands/sbom.js';

/** Runs the CLI; returns the exit code (documented in docs/exit-codes.md). */
export async function run(argv: string[], terminal: Terminal = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const ctx = makeContext(terminal);
  let failure: unknown;
  let lastArgs: GlobalArgs = { json: argv.includes('--json') };
  const parser = yargs(argv)
    .scriptName('lading')
    .usage('$0 <command> [options]\n\nDaemonless Cloud Native Buildpacks: reproducible OCI images with SBOMs, no Docker daemon.')
    .option('json', { type: 'boolean', default: false, global: true, describe: 'print one JSON result object on stdout' })
    .option('verbose', { type: 'boolean', alias: 'v', default: false, global: true, describe: 'more detail on stderr' })
    .option('insecure-registry', { type: 'string', array: true, global: true, describe: 'use plain http for this registry host (loopback hosts always do)' })
    .option('platform', { type: 'string', global: true, describe: 'os/arch[/variant] to pick from an image index (default: this machine)' })
    .command(copyCommand(ctx) as never)
    .command(inspectCommand(ctx) as never)
    .command(imagesCommand(ctx) as never)
    .command(pushCommand(ctx) as never)
    .command(stackCommand(ctx) as never)
    .command(rebaseCommand(ctx) as never)
    .command(buildCommand(ctx) as never)
    .command(signCommand(ctx) as never)
    .command(verifyCommand(ctx) as never)
    .command(keygenCommand(ctx) as never)
    .command(sbomCommand(ctx) as never)
    .middleware((args) => {
      lastArgs = args as GlobalArgs;
    })
    .demandCommand(1, 'name a command; `lading --help` lists them')
    .strict()
    .exitProcess(false)
    .showHelpOnFail(false)
    // Throwing stops yargs: a fail handler that returns lets it run the command with invalid arguments.
    .fail((msg, err) => {
      throw err ?? new LadingError('USAGE', msg);
    })
    .wrap(Math.min(110, terminal.stdout.isTTY ? 110 : 100))
    .version(false)
    .help();
  try {
    await parser.parseAsync();
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) return await ctx.output(lastArgs).error(failure);
  return 0;
}
