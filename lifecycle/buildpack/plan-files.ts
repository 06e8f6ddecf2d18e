import { stringify } from 'smol-toml';
import type { PlanEntry, Require } from './build-plan.js';
import { parseToml, tomlFields, type TomlTable } from './toml-file.js';

/** A member of the detected group, as group.toml records it (platform.md "group.toml"). */
export interface GroupMember {
  id: string;
  version: string;
  api: string;
  homepage?: string;
}

/** An entry of a buildpack's own plan (buildpack.md "Buildpack Plan (TOML)"). */
export interface BuildpackPlanEntry {
  name: string;
  metadata: TomlTable;
}

/** group.toml contents for the detected group. */
export function groupToml(group: readonly GroupMember[]): string {
  return stringify({
    group: group.map((m) => ({ id: m.id, version: m.version, api: m.api, ...(m.homepage ? { homepage: m.homepage } : {}) })),
  });
}

export function parseGroupToml(text: string, file: string): GroupMember[] {
  const root = tomlFields(parseToml(text, file, 'CONTENT_INVALID'), file, 'CONTENT_INVALID');
  return root.tables('group').map((g) => {
    const m: GroupMember = { id: g.string('id'), version: g.string('version'), api: g.string('api') };
    const homepage = g.optionalString('homepage');
    if (homepage) m.homepage = homepage;
    return m;
  });
}

/** plan.toml contents for the resolved plan (platform.md "plan.toml"). */
export function planToml(entries: readonly PlanEntry[]): string {
  return stringify({
    entries: entries.map((e) => ({
      providers: e.providers.map((p) => ({ id: p.id, version: p.version })),
      requires: e.requires.map(requireTable),
    })),
  });
}

export function parsePlanToml(text: string, file: string): PlanEntry[] {
  const root = tomlFields(parseToml(text, file, 'CONTENT_INVALID'), file, 'CONTENT_INVALID');
  return root.tables('entries').map((e) => ({
    providers: e.tables('providers').map((p) => ({ id: p.string('id'), version: p.string('version') })),
    requires: e.tables('requires').map((r) => ({ name: r.string('name'), metadata: r.freeTable('metadata') })),
  }));
}

/**
 * The Buildpack Plan for one buildpack: one entry per require of every plan entry the buildpack provides,
 * so a name repeats when several buildpacks required it (as the Go lifecycle's Plan.Find does).
 */
export function buildpackPlanFor(entries: readonly PlanEntry[], buildpackId: string): BuildpackPlanEntry[] {
  return entries
    .filter((e) => e.providers.some((p) => p.id === buildpackId))
    .flatMap((e) => e.requires.map((r) => ({ name: r.name, metadata: r.metadata })));
}

/** Contents of the file at `$CNB_BP_PLAN_PATH`. */
export function buildpackPlanToml(entries: readonly BuildpackPlanEntry[]): string {
  return stringify({ entries: entries.map(requireTable) });
}

/**
 * The plan left for later buildpacks after one built (buildpack.md "Unmet Buildpack Plan Entries"): entries
 * the buildpack received are removed unless its build.toml listed their name as `[[unmet]]`, in which case
 * they stay for the next buildpack that provided that name.
 */
export function remainingPlan(
  entries: readonly PlanEntry[],
  received: readonly BuildpackPlanEntry[],
  unmet: readonly string[],
): PlanEntry[] {
  const unmetNames = new Set(unmet);
  const met = new Set(received.map((e) => e.name).filter((n) => !unmetNames.has(n)));
  return entries.filter((e) => !met.has(e.requires[0]?.name ?? ''));
}

function requireTable(r: Require | BuildpackPlanEntry): TomlTable {
  return Object.keys(r.metadata).length === 0 ? { name: r.name } : { name: r.name, metadata: r.metadata };
}
