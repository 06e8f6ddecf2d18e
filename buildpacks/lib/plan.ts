import { BuildpackError } from './errors.js';
import { isTable, readTomlFile, type TomlTable } from './toml-file.js';

export interface PlanProvide {
  name: string;
}

export interface PlanRequire {
  name: string;
  /** Buildpack-specific data; Paketo's convention: version, version-source, build, launch. */
  metadata?: TomlTable;
}

export interface PlanAlternative {
  provides?: PlanProvide[];
  requires?: PlanRequire[];
}

/** What `/bin/detect` contributes to the Build Plan (buildpack.md "Build Plan (TOML)"); `or` lists alternatives. */
export interface BuildPlan extends PlanAlternative {
  or?: PlanAlternative[];
}

function section(alt: PlanAlternative, where: string): TomlTable {
  const out: TomlTable = {};
  if (alt.provides?.length) {
    out['provides'] = alt.provides.map((p, i) => {
      if (!p.name) throw new BuildpackError('INVALID_OUTPUT', `build plan: ${where}provides[${i}] has no name`);
      return { name: p.name };
    });
  }
  if (alt.requires?.length) {
    out['requires'] = alt.requires.map((r, i) => {
      if (!r.name) throw new BuildpackError('INVALID_OUTPUT', `build plan: ${where}requires[${i}] has no name`);
      if ('version' in r) {
        throw new BuildpackError('INVALID_OUTPUT', `build plan: ${where}requires[${i}] (${r.name}) has a top-level version; put it in metadata.version`);
      }
      return r.metadata && Object.keys(r.metadata).length ? { name: r.name, metadata: r.metadata } : { name: r.name };
    });
  }
  return out;
}

/** The TOML table for a detect plan, validated the way the lifecycle will read it. */
export function buildPlanTable(plan: BuildPlan): TomlTable {
  const out = section(plan, '');
  if (plan.or?.length) out['or'] = plan.or.map((alt, i) => section(alt, `or[${i}].`));
  return out;
}

export interface BuildpackPlanEntry {
  name: string;
  metadata: TomlTable;
}

/** The Buildpack Plan `/bin/build` receives: one entry per require of every plan entry this buildpack provides. */
export class BuildpackPlan {
  readonly entries: readonly BuildpackPlanEntry[];

  constructor(entries: readonly BuildpackPlanEntry[]) {
    this.entries = entries;
  }

  has(name: string): boolean {
    return this.entries.some((e) => e.name === name);
  }

  /** Every entry with this name (names repeat when several buildpacks require the same thing). */
  named(name: string): BuildpackPlanEntry[] {
    return this.entries.filter((e) => e.name === name);
  }

  /** Whether any require of `name` asked for it at build or launch time (metadata.build / metadata.launch). */
  layerTypesFor(name: string): { build: boolean; launch: boolean } {
    const all = this.named(name);
    return { build: all.some((e) => e.metadata['build'] === true), launch: all.some((e) => e.metadata['launch'] === true) };
  }
}

/** Reads `CNB_BP_PLAN_PATH` (buildpack.md "Buildpack Plan (TOML)"). */
export async function readBuildpackPlan(file: string): Promise<BuildpackPlan> {
  const doc = await readTomlFile(file);
  if (!doc) throw new BuildpackError('CONTRACT', `buildpack plan ${file} not found`);
  const raw = doc['entries'] ?? [];
  if (!Array.isArray(raw)) throw new BuildpackError('CONTRACT', `${file}: entries must be an array of tables`);
  const entries = raw.map((e, i) => {
    if (!isTable(e) || typeof e['name'] !== 'string') throw new BuildpackError('CONTRACT', `${file}: entries[${i}] has no name`);
    return { name: e['name'], metadata: isTable(e['metadata']) ? e['metadata'] : {} };
  });
  return new BuildpackPlan(entries);
}
