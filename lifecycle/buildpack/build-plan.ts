import { parseToml, tomlFields, type TomlFields, type TomlTable } from './toml-file.js';

export interface Provide {
  name: string;
}

export interface Require {
  name: string;
  metadata: TomlTable;
}

/** One potential Build Plan: a `provides`/`requires` pairing (buildpack.md "Build Plan (TOML)"). */
export interface PlanSections {
  provides: Provide[];
  requires: Require[];
}

/** What a `/bin/detect` wrote to `$CNB_BUILD_PLAN_PATH`: the top-level pairing plus `[[or]]` alternatives. */
export interface DetectPlan extends PlanSections {
  or: PlanSections[];
}

export const EMPTY_DETECT_PLAN: DetectPlan = { provides: [], requires: [], or: [] };

/**
 * Parses a build plan written by `/bin/detect`. A `version` key directly in a require is rejected, as the Go
 * lifecycle does ("metadata.version" is the supported place); errors use code DETECT and name the file.
 */
export function parseDetectPlan(text: string, file: string, buildpackId: string): DetectPlan {
  const root = tomlFields(parseToml(text, file, 'DETECT'), file, 'DETECT');
  const sections = (t: TomlFields): PlanSections => ({
    provides: t.tables('provides').map((p) => ({ name: p.string('name') })),
    requires: t.tables('requires').map((r) => {
      if (r.has('version')) {
        r.fail(`buildpack ${buildpackId} has a "version" key in ${r.where} which is not supported; use "metadata.version" instead`);
      }
      return { name: r.string('name'), metadata: r.freeTable('metadata') };
    }),
  });
  return { ...sections(root), or: root.tables('or').map(sections) };
}

/** A buildpack of a group that passed `/bin/detect`, with its plan. */
export interface DetectedBuildpack {
  id: string;
  version: string;
  optional: boolean;
  plan: DetectPlan;
}

export interface Provider {
  id: string;
  version: string;
}

/** A resolved plan entry (platform.md "plan.toml"): who provides a dependency and every require of it. */
export interface PlanEntry {
  providers: Provider[];
  requires: Require[];
}

export interface ResolvedPlan<T extends DetectedBuildpack> {
  /** The group members that take part in the build, in group order. */
  group: T[];
  entries: PlanEntry[];
}

interface Option<T> {
  member: T;
  optional: boolean;
  sections: PlanSections;
}

/**
 * Resolves the Build Plan of a group whose members passed detection (buildpack.md "Phase #1: Detection").
 * Trials take one potential plan per member, left to right and depth-first (top-level pairing first, then
 * each `[[or]]`). In a trial, a member that requires something no earlier-or-same member provides, or provides
 * something no later-or-same member requires, fails the trial; an optional member is dropped instead and the
 * trial re-checked. An optional member is only droppable in its last alternative, so its earlier
 * alternatives get a chance first (as the Go lifecycle does). Returns the first trial that succeeds, or
 * undefined when none does.
 */
export function resolveBuildPlan<T extends DetectedBuildpack>(members: readonly T[]): ResolvedPlan<T> | undefined {
  const choices = members.map((member) => {
    const all = [member.plan as PlanSections, ...member.plan.or];
    return all.map((sections, i): Option<T> => ({ member, sections, optional: member.optional && i === all.length - 1 }));
  });
  for (const trial of trials(choices, 0, [])) {
    const resolved = runTrial(trial);
    if (resolved) return resolved;
  }
  return undefined;
}

function* trials<T>(choices: Option<T>[][], i: number, prefix: Option<T>[]): Generator<Option<T>[]> {
  if (i === choices.length) {
    yield prefix;
    return;
  }
  for (const option of choices[i]!) yield* trials(choices, i + 1, [...prefix, option]);
}

interface Dependency {
  providers: Provider[];
  requires: Require[];
  pendingProviders: Option<unknown>[];
  earlyRequirers: Option<unknown>[];
}

function runTrial<T extends DetectedBuildpack>(initial: Option<T>[]): ResolvedPlan<T> | undefined {
  let trial = initial;
  for (;;) {
    const deps = new Map<string, Dependency>();
    const dep = (name: string) => {
      let d = deps.get(name);
      if (!d) deps.set(name, (d = { providers: [], requires: [], pendingProviders: [], earlyRequirers: [] }));
      return d;
    };
    for (const option of trial) {
      for (const p of option.sections.provides) dep(p.name).pendingProviders.push(option);
      for (const r of option.sections.requires) {
        const d = dep(r.name);
        for (const p of d.pendingProviders) d.providers.push({ id: (p as Option<T>).member.id, version: (p as Option<T>).member.version });
        d.pendingProviders = [];
        if (d.providers.length === 0) d.earlyRequirers.push(option);
        else d.requires.push(r);
      }
    }
    const unmet = new Set<Option<unknown>>();
    for (const d of deps.values()) for (const o of [...d.earlyRequirers, ...d.pendingProviders]) unmet.add(o);
    if (unmet.size === 0) {
      if (trial.length === 0) return undefined;
      const entries = [...deps.values()].map(({ providers, requires }) => ({ providers: uniqueProviders(providers), requires }));
      return { group: trial.map((o) => o.member), entries };
    }
    if ([...unmet].some((o) => !o.optional)) return undefined;
    trial = trial.filter((o) => !unmet.has(o));
  }
}

function uniqueProviders(providers: Provider[]): Provider[] {
  const seen = new Set<string>();
  return providers.filter((p) => {
    const key = `${p.id}@${p.version}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
