import type { Digest } from './digest.js';
import { parseDigest } from './digest.js';
import { isRecord } from './descriptor.js';
import { InvalidContentError } from './errors.js';
import { parseJson } from './json.js';

export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  [key: string]: unknown;
}

export interface History {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The image config (OCI `application/vnd.oci.image.config.v1+json`, same shape as Docker's). Unknown keys are kept. */
export interface ConfigFile {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: History[];
  [key: string]: unknown;
}

export function parseConfig(bytes: Uint8Array, what: string): ConfigFile {
  const doc = parseJson(bytes, what);
  if (!isRecord(doc)) throw new InvalidContentError(`${what}: config is not a JSON object`);
  if (typeof doc.architecture !== 'string' || typeof doc.os !== 'string') {
    throw new InvalidContentError(`${what}: config needs string "architecture" and "os"`);
  }
  const rootfs = doc.rootfs;
  if (!isRecord(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw new InvalidContentError(`${what}: config needs rootfs {type: "layers", diff_ids: [...]}`);
  }
  const diffIds = rootfs.diff_ids.map((d, i) => parseDigest(d, `${what} rootfs.diff_ids[${i}]`));
  if (doc.config !== undefined && doc.config !== null && !isRecord(doc.config)) {
    throw new InvalidContentError(`${what}: "config" must be an object`);
  }
  return { ...(doc as object), rootfs: { type: 'layers', diff_ids: diffIds } } as ConfigFile;
}
