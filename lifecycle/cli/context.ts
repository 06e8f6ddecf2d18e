import { parsePlatformString, type Platform } from '../../registry/oci/index.js';
import { hostPlatform } from '../../registry/copy/index.js';
import { join } from 'node:path';
import { storeHome } from '../../registry/layout/index.js';
import type { OpenOptions } from '../../registry/open.js';
import { Output, type Terminal } from './output.js';

export interface GlobalArgs {
  json?: boolean;
  verbose?: boolean;
  'insecure-registry'?: string[];
  platform?: string;
}

/** What every command gets: the terminal and a way to make its Output. Tests pass their own. */
export interface CommandContext {
  terminal: Terminal;
  output(args: GlobalArgs): Output;
}

export function makeContext(terminal: Terminal): CommandContext {
  let output: Output | undefined;
  return {
    terminal,
    output: (args) => (output ??= new Output(terminal, { json: args.json ?? false, verbose: args.verbose ?? false })),
  };
}

export function globalOpenOptions(args: GlobalArgs, ctx: CommandContext): OpenOptions {
  const options: OpenOptions = {
    insecure: args['insecure-registry'] ?? [],
    env: ctx.terminal.env,
    blobLocationsDir: join(storeHome({ env: ctx.terminal.env }), 'cache', 'blob-locations'),
  };
  return options;
}

export function platformOf(args: GlobalArgs): Platform {
  return args.platform ? parsePlatformString(args.platform) : hostPlatform();
}
