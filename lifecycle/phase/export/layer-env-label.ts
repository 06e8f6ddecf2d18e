import type { EnvFile, LayerEnvSource } from '../../buildpack/index.js';
import { goJson } from '../../platform/index.js';

/**
 * lading's own label: what each launch layer contributes to the launch environment (`bin/`, `lib/`, env files),
 * so a rebuild that reuses a layer from the previous image (no directory on disk) still resolves the same
 * Env at export. The CNB launcher reads this from the layer at run time; lading has no launcher.
 */
export const LAYER_ENV_LABEL = 'lading.layer-env';

type StoredEnv = Omit<LayerEnvSource, 'name' | 'path' | 'env' | 'envBuild' | 'envLaunch' | 'envLaunchProcess'> & {
  env: StoredFile[];
  envLaunch: StoredFile[];
  envLaunchProcess: Record<string, StoredFile[]>;
};
type StoredFile = Pick<EnvFile, 'name' | 'action' | 'value'>;

const strip = (files: readonly EnvFile[]): StoredFile[] => files.map((f) => ({ name: f.name, action: f.action, value: f.value }));

export function serializeLayerEnv(byBuildpack: ReadonlyMap<string, readonly LayerEnvSource[]>): string {
  const out: Record<string, Record<string, StoredEnv>> = {};
  for (const [bp, layers] of [...byBuildpack].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const entries: Record<string, StoredEnv> = {};
    for (const l of [...layers].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      entries[l.name] = {
        bin: l.bin, lib: l.lib, include: l.include, pkgconfig: l.pkgconfig, execD: l.execD, profileD: l.profileD,
        env: strip(l.env), envLaunch: strip(l.envLaunch),
        envLaunchProcess: Object.fromEntries(Object.keys(l.envLaunchProcess).sort().map((k) => [k, strip(l.envLaunchProcess[k]!)])),
      };
    }
    out[bp] = entries;
  }
  return goJson(out);
}

/** The env source of a reused layer, or undefined when the label (or the layer in it) is missing or malformed. */
export function layerEnvFromLabel(label: string | undefined, bp: string, name: string, path: string): LayerEnvSource | undefined {
  if (!label) return undefined;
  try {
    const doc = JSON.parse(label) as Record<string, Record<string, StoredEnv>>;
    const s = doc[bp]?.[name];
    if (!s) return undefined;
    const file = (f: StoredFile): EnvFile => ({ ...f, file: `${path} (previous image)` });
    return {
      name, path, bin: !!s.bin, lib: !!s.lib, include: !!s.include, pkgconfig: !!s.pkgconfig, execD: !!s.execD, profileD: !!s.profileD,
      env: (s.env ?? []).map(file), envBuild: [], envLaunch: (s.envLaunch ?? []).map(file),
      envLaunchProcess: Object.fromEntries(Object.entries(s.envLaunchProcess ?? {}).map(([k, v]) => [k, v.map(file)])),
    };
  } catch {
    return undefined;
  }
}
