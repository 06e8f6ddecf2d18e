import type { Argv } from 'yargs';
import {
  parseManifest, platformString, type ContentSource, type Descriptor, type Platform,
} from '../../../registry/oci/index.js';
import { imageFromSource } from '../../../registry/image/index.js';
import { pickPlatform } from '../../../registry/copy/index.js';
import { formatReference, parseReference } from '../../../registry/reference.js';
import { openSource } from '../../../registry/open.js';
import { humanSize, type Output } from '../output.js';
import { globalOpenOptions, platformOf, type CommandContext, type GlobalArgs } from '../context.js';

export interface InspectLayer { digest: string; diffId: string; size: number; mediaType: string }
export interface InspectReferrer { digest: string; mediaType: string; artifactType?: string; size: number; annotations?: Record<string, string> }

/** `--json` shape of `lading inspect` (field names are a contract, design §11). */
export interface InspectResult {
  image: string;
  digest: string;
  mediaType: string;
  size: number;
  /** Set when the reference names an index: its entries; the other fields describe the chosen platform's image. */
  index?: { digest: string; mediaType: string; manifests: { digest: string; mediaType: string; platform: string; size: number }[] };
  platform: string;
  created?: string;
  layers: InspectLayer[];
  env: string[];
  entrypoint: string[];
  cmd: string[];
  user: string;
  workingDir: string;
  labels: Record<string, string>;
  referrers: InspectReferrer[];
}

export async function describeImage(source: ContentSource, image: string, platform: Platform): Promise<InspectResult> {
  let desc: Descriptor = await source.resolve();
  let index: InspectResult['index'];
  const fetched = await source.manifest(desc.digest, desc.mediaType);
  const parsed = parseManifest(fetched.bytes, `${source.location} manifest ${desc.digest}`, fetched.mediaType);
  if (parsed.kind === 'index') {
    index = {
      digest: desc.digest,
      mediaType: parsed.mediaType,
      manifests: parsed.manifest.manifests.map((m) => ({ digest: m.digest, mediaType: m.mediaType, platform: platformString(m.platform), size: m.size })),
    };
    desc = pickPlatform(parsed, source.location, platform);
  }
  const img = await imageFromSource(source, desc);
  const c = img.config.config ?? {};
  const referrers = (await source.referrers(img.descriptor.digest)).map((r) => {
    const out: InspectReferrer = { digest: r.digest, mediaType: r.mediaType, size: r.size };
    if (r.artifactType) out.artifactType = r.artifactType;
    if (r.annotations) out.annotations = r.annotations;
    return out;
  });
  const result: InspectResult = {
    image,
    digest: img.descriptor.digest,
    mediaType: img.descriptor.mediaType,
    size: img.descriptor.size + img.manifest.config.size + img.layers.reduce((n, l) => n + l.size, 0),
    platform: platformString({ os: img.config.os, architecture: img.config.architecture, ...(img.config.variant ? { variant: img.config.variant } : {}) }),
    layers: img.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType })),
    env: c.Env ?? [],
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    user: c.User ?? '',
    workingDir: c.WorkingDir ?? '',
    labels: c.Labels ?? {},
    referrers,
  };
  if (img.config.created !== undefined) result.created = img.config.created;
  if (index) result.index = index;
  return result;
}

/** Human form; JSON-valued `io.buildpacks.*` labels are pretty-printed. */
export function formatInspect(r: InspectResult): string {
  const lines: string[] = [];
  const kv = (k: string, v: string) => lines.push(`${`${k}:`.padEnd(12)} ${v}`);
  kv('Image', r.image);
  if (r.index) {
    kv('Index', `${r.index.digest} (${r.index.mediaType})`);
    for (const m of r.index.manifests) lines.push(`  ${m.platform.padEnd(20)} ${m.digest}`);
  }
  kv('Digest', r.digest);
  kv('MediaType', r.mediaType);
  kv('Platform', r.platform);
  kv('Created', r.created ?? '-');
  kv('Size', humanSize(r.size));
  kv('User', r.user || '-');
  kv('WorkingDir', r.workingDir || '-');
  kv('Entrypoint', r.entrypoint.length ? JSON.stringify(r.entrypoint) : '-');
  kv('Cmd', r.cmd.length ? JSON.stringify(r.cmd) : '-');
  lines.push('Env:');
  for (const e of r.env) lines.push(`  ${e}`);
  lines.push(`Layers (${r.layers.length}):`);
  for (const l of r.layers) lines.push(`  ${l.digest}  ${humanSize(l.size).padStart(9)}  diffID ${l.diffId}`);
  const labels = Object.keys(r.labels).sort();
  lines.push(`Labels (${labels.length}):`);
  for (const k of labels) lines.push(`  ${k}: ${prettyLabel(k, r.labels[k] ?? '')}`);
  lines.push(`Referrers (${r.referrers.length}):`);
  for (const ref of r.referrers) lines.push(`  ${ref.digest}  ${ref.artifactType ?? ref.mediaType}`);
  return lines.join('\n');
}

function prettyLabel(key: string, value: string): string {
  if (!key.startsWith('io.buildpacks.')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed === null || typeof parsed !== 'object') return value;
    return `\n${JSON.stringify(parsed, null, 2).split('\n').map((l) => `    ${l}`).join('\n')}`;
  } catch {
    return value;
  }
}

export function inspectCommand(ctx: CommandContext) {
  return {
    command: 'inspect <image>',
    describe: 'Show an image: digest, platform, layers, config, labels and referrers',
    builder: (y: Argv<GlobalArgs>) =>
      y.positional('image', { type: 'string', demandOption: true, describe: 'store name, docker://REF, oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE' })
        .example('$0 inspect myapp', 'an image in the local store')
        .example('$0 inspect docker://127.0.0.1:5000/app:v1 --json', 'a registry image, as JSON'),
    handler: async (args: GlobalArgs & { image: string }) => {
      const out: Output = ctx.output(args);
      const ref = parseReference(args.image);
      const source = await openSource(ref, globalOpenOptions(args, ctx));
      try {
        const result = await describeImage(source, formatReference(ref), platformOf(args));
        if (out.json) out.result(result);
        else out.print(formatInspect(result));
      } finally {
        await source.close();
      }
    },
  };
}
