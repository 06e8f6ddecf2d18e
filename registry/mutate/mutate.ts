import {
  InvalidContentError, MediaType, digestOf, isGzipLayer, isUncompressedLayer, serializeManifest, stableJsonBytes,
  type ConfigFile, type ContainerConfig, type Digest, type History, type Image, type ImageManifest, type Layer, type Platform,
} from '../oci/index.js';
import { makeImage } from '../image/index.js';

/** The reproducible default for image and history timestamps (the CNB lifecycle's constant). */
export const NORMALIZED_TIME = '1980-01-01T00:00:01Z';

/** OCI equivalents of Docker layer media types (same bytes, so digests are unchanged). */
function ociLayerType(mt: string): string {
  if (mt === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  if (mt === MediaType.DockerLayer) return MediaType.OciLayer;
  return mt;
}

/** A new image from a config and layers: OCI manifest, stable JSON, diff_ids taken from the layers. */
export function assemble(config: ConfigFile, layers: readonly Layer[], annotations?: Record<string, string>): Image {
  const ociLayers = layers.map((l) => (l.mediaType === ociLayerType(l.mediaType) ? l : relabel(l, ociLayerType(l.mediaType))));
  const fixed: ConfigFile = { ...config, rootfs: { type: 'layers', diff_ids: ociLayers.map((l) => l.diffId) } };
  if (fixed.history) {
    const nonEmpty = fixed.history.filter((h) => !h.empty_layer).length;
    if (nonEmpty !== ociLayers.length) {
      throw new InvalidContentError(`history has ${nonEmpty} non-empty entries for ${ociLayers.length} layers`);
    }
  }
  const rawConfig = stableJsonBytes(fixed);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: digestOf(rawConfig), size: rawConfig.byteLength },
    layers: ociLayers.map((l) => {
      const d = { mediaType: l.mediaType, digest: l.digest, size: l.size } as ImageManifest['layers'][number];
      if (l.annotations && Object.keys(l.annotations).length > 0) d.annotations = { ...l.annotations };
      return d;
    }),
  };
  if (annotations && Object.keys(annotations).length > 0) manifest.annotations = annotations;
  const { bytes, digest } = serializeManifest(manifest);
  return makeImage({ mediaType: MediaType.OciManifest, digest, size: bytes.byteLength }, bytes, rawConfig, ociLayers);
}

function relabel(layer: Layer, mediaType: string): Layer {
  return {
    mediaType,
    digest: layer.digest,
    size: layer.size,
    diffId: layer.diffId,
    ...(layer.annotations ? { annotations: layer.annotations } : {}),
    compressed: () => layer.compressed(),
    uncompressed: () => layer.uncompressed(),
  };
}

/** An image with no layers (`FROM scratch`). */
export function emptyImage(platform: Platform, created = NORMALIZED_TIME): Image {
  const config: ConfigFile = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  return assemble(config, []);
}

export interface Addendum {
  layer: Layer;
  history?: History;
}

/** `base` plus layers on top, each with a history entry (created defaults to the base's created time). */
export function appendLayers(base: Image, ...additions: Addendum[]): Image {
  const config = structuredClone(base.config);
  const history = config.history ?? base.layers.map(() => ({ created: config.created ?? NORMALIZED_TIME }));
  for (const a of additions) history.push({ created: config.created ?? NORMALIZED_TIME, ...a.history });
  config.history = history;
  for (const a of additions) {
    if (!isGzipLayer(a.layer.mediaType) && !isUncompressedLayer(a.layer.mediaType) && a.layer.mediaType !== MediaType.OciLayerZstd) {
      throw new InvalidContentError(`cannot append a layer of media type ${a.layer.mediaType}`);
    }
  }
  return assemble(config, [...base.layers, ...additions.map((a) => a.layer)], base.manifest.annotations);
}

/** Changes to the container config; `labels` are merged (a null value removes a label). */
export interface ConfigChanges {
  env?: string[];
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  user?: string;
  workingDir?: string;
  labels?: Record<string, string | null>;
  exposedPorts?: string[];
}

export function withConfig(image: Image, changes: ConfigChanges): Image {
  const config = structuredClone(image.config);
  const c: ContainerConfig = { ...(config.config ?? {}) };
  if (changes.env !== undefined) c.Env = changes.env;
  if (changes.entrypoint !== undefined) c.Entrypoint = changes.entrypoint;
  if (changes.cmd !== undefined) c.Cmd = changes.cmd;
  if (changes.user !== undefined) c.User = changes.user;
  if (changes.workingDir !== undefined) c.WorkingDir = changes.workingDir;
  if (changes.exposedPorts !== undefined) c.ExposedPorts = Object.fromEntries(changes.exposedPorts.map((p) => [p, {}]));
  if (changes.labels !== undefined) {
    const labels = { ...(c.Labels ?? {}) };
    for (const [k, v] of Object.entries(changes.labels)) {
      if (v === null) delete labels[k];
      else labels[k] = v;
    }
    c.Labels = labels;
  }
  config.config = c;
  return assemble(config, image.layers, image.manifest.annotations);
}

/** Sets the image's `created` time (and, with `history: true`, every history entry's). */
export function withCreated(image: Image, created: string, options: { history?: boolean } = {}): Image {
  const config = structuredClone(image.config);
  config.created = created;
  if (options.history && config.history) config.history = config.history.map((h) => ({ ...h, created }));
  return assemble(config, image.layers, image.manifest.annotations);
}

export function withAnnotations(image: Image, annotations: Record<string, string>): Image {
  return assemble(structuredClone(image.config), image.layers, { ...(image.manifest.annotations ?? {}), ...annotations });
}

/**
 * Replaces the bottom `oldBaseLayers` layers of `image` with the layers of `newBase`. The image's own
 * layers (and their history) are kept byte-identical; platform fields come from the new base.
 */
export function rebase(image: Image, oldBaseTop: Digest, newBase: Image): Image {
  const top = image.layers.findIndex((l) => l.diffId === oldBaseTop);
  if (top < 0) throw new InvalidContentError(`rebase: the image has no layer with diffID ${oldBaseTop} (the recorded run-image top layer)`);
  const own = image.layers.slice(top + 1);
  const ownHistory = (image.config.history ?? []).filter((h) => !h.empty_layer).slice(top + 1);
  const baseHistory = newBase.config.history ?? newBase.layers.map(() => ({ created: newBase.config.created ?? NORMALIZED_TIME }));
  const config: ConfigFile = {
    ...structuredClone(image.config),
    architecture: newBase.config.architecture,
    os: newBase.config.os,
    history: [...baseHistory, ...(ownHistory.length === own.length ? ownHistory : own.map(() => ({ created: image.config.created ?? NORMALIZED_TIME })))],
  };
  if (newBase.config.variant) config.variant = newBase.config.variant;
  else delete config.variant;
  return assemble(config, [...newBase.layers, ...own], image.manifest.annotations);
}
