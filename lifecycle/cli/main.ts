import yargs from 'yargs';
import { LadingError } from '../../registry/oci/index.js';
import { makeContext, type GlobalArgs } from './context.js';
import { resumeExtraCaCerts } from './extra-ca.js';
import type { Terminal } from './output.js';
import type { CommandContext } from './context.js';

type CommandFactory = (ctx: CommandContext) => unknown;

/**
 * Every command, loaded on demand: a run loads only the module of the command it names (start-up time is
 * part of every push and rebuild), and all of them only for help or an unknown command. Order = help order.
 */
const COMMANDS: Readonly<Record<string, () => Promise<CommandFactory>>> = {
  build: async () => (await import('./commands/build.js')).buildCommand,
  rebase: async () => (await import('./commands/rebase.js')).rebaseCommand,
  copy: async () => (await import('./commands/copy.js')).copyCommand,
  inspect: async () => (await import('./commands/inspect.js')).inspectCommand,
  images: async () => (await import('./commands/images.js')).imagesCommand,
  push: async () => (await import('./commands/push.js')).pushCommand,
  sbom: async () => (await import('./commands/sbom.js')).sbomCommand,
  sign: async () => (await import('./commands/sign.js')).signCommand,
  verify: async () => (await import('./commands/verify.js')).verifyCommand,
  keygen: async () => (await import('./commands/keygen.js')).keygenCommand,
  stack: async () => (await import('./commands/stack.js')).stackCommand,
  builder: async () => (await import('./commands/builder.js')).builderCommand,
  buildpack: async () => (await import('./commands/buildpack-package.js')).buildpackCommand,
};

/** Runs the CLI; returns the exit code (documented in docs/exit-codes.md). */
export async function run(argv: string[], terminal: Terminal = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  resumeExtraCaCerts();
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
  skipHelpCache(parser);
  const named = argv.find((a) => !a.startsWith('-'));
  const wanted = named !== undefined && named in COMMANDS ? [named] : Object.keys(COMMANDS);
  for (const name of wanted) parser.command(((await COMMANDS[name]!()) as CommandFactory)(ctx) as never);
  try {
    await parser.parseAsync();
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) return await ctx.output(lastArgs).error(failure);
  return 0;
}

/**
 * yargs renders the complete help text of a command right after starting its handler, only to have it ready
 * for a later `showHelp()` (lading calls none; `--help` renders afresh): 50–200 ms of every build. The hook
 * is yargs-internal, so this does nothing if a yargs version lacks it.
 */
function skipHelpCache(parser: unknown): void {
  type Usage = { cacheHelpMessage?: unknown };
  const internal = (parser as { getInternalMethods?: () => { getUsageInstance?: () => Usage | undefined } }).getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}
