import { LadingError } from '../../registry/oci/index.js';
import { parseOrder, type BuildpackDescriptor, type GroupEntry, type Order } from './descriptor.js';
import { parseToml, tomlFields } from './toml-file.js';

/** Finds buildpacks by id (and version, when the reference names one). A catalog implements it. */
export interface BuildpackSource {
  findBuildpack(id: string, version?: string): BuildpackDescriptor;
}

/** A component buildpack in a resolved group. */
export interface GroupElement {
  descriptor: BuildpackDescriptor;
  id: string;
  version: string;
  optional: boolean;
}

export interface ExpandOrderOptions {
  /**
   * The build's execution environment when it is not the default (`production`): buildpacks whose
   * order entry or descriptor excludes it are skipped (platform.md `detector`, Platform API 0.15).
   */
  execEnv?: string;
}

interface PendingEntry extends GroupEntry {
  /** Ids of the composites this entry came from, to refuse an order that contains itself. */
  ancestors: readonly string[];
}

/**
 * Resolves an order into groups of component buildpacks, lazily and in the order detection must try them
 * (buildpack.md "Order Resolution"): composite buildpacks expand depth-first, left to right, each group of
 * their order spliced in place of the composite (`[E, O, F]` with `O = [[A, B], [C, D]]` gives `[E, A, B, F]`
 * then `[E, C, D, F]`); an optional composite adds a copy of the group without it after those. The copy rule
 * is not applied to optional component buildpacks: detection already drops a failing optional member from
 * its group, so the copy could only repeat a group that failed (the Go lifecycle does the same). A buildpack
 * id seen earlier in a group is not repeated.
 */
export function* expandOrder(order: Order, source: BuildpackSource, opts: ExpandOrderOptions = {}): Generator<GroupElement[]> {
  for (const group of order) yield* expand(group.map((e) => ({ ...e, ancestors: [] })), [], source, opts);
}

function* expand(
  entries: readonly PendingEntry[],
  prefix: readonly GroupElement[],
  source: BuildpackSource,
  opts: ExpandOrderOptions,
): Generator<GroupElement[]> {
  const [first, ...rest] = entries;
  if (first === undefined) {
    yield [...prefix];
    return;
  }
  if (prefix.some((m) => m.id === first.id) || !execEnvAllows(first.execEnv, opts.execEnv)) {
    yield* expand(rest, prefix, source, opts);
    return;
  }
  const descriptor = source.findBuildpack(first.id, first.version);
  if (descriptor.kind === 'composite') {
    if (first.ancestors.includes(first.id)) {
      throw new LadingError('DETECT', `${descriptor.file}: the order of composite buildpack ${first.id} contains itself (${[...first.ancestors, first.id].join(' → ')})`);
    }
    const ancestors = [...first.ancestors, first.id];
    for (const group of descriptor.order) {
      yield* expand([...group.map((e) => ({ ...e, ancestors })), ...rest], prefix, source, opts);
    }
    if (first.optional) yield* expand(rest, prefix, source, opts);
    return;
  }
  if (!execEnvAllows(descriptor.info.execEnv.length > 0 ? descriptor.info.execEnv : undefined, opts.execEnv)) {
    yield* expand(rest, prefix, source, opts);
    return;
  }
  const element: GroupElement = { descriptor, id: descriptor.info.id, version: descriptor.info.version, optional: first.optional };
  yield* expand(rest, [...prefix, element], source, opts);
}

function execEnvAllows(allowed: readonly string[] | undefined, execEnv: string | undefined): boolean {
  if (execEnv === undefined || allowed === undefined) return true;
  return allowed.includes(execEnv) || allowed.includes('*');
}

/** Parses order.toml (platform.md "order.toml"): every entry names an id and a version. */
export function parseOrderToml(text: string, file: string): Order {
  const root = tomlFields(parseToml(text, file, 'CONTENT_INVALID'), file, 'CONTENT_INVALID');
  return parseOrder(root, { requireVersion: true });
}
