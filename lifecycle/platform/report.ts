import { stringify } from 'smol-toml';

/** `report.toml` (platform.md "report.toml"): what the exporter (and rebaser) produced. */
export interface Report {
  image: {
    /** Every tag reference the app image was written under. */
    tags: string[];
    /** Registry (and layout/store) exports: the manifest digest. */
    digest?: string;
    /** Daemon exports only; lading has no daemon, kept for readers of pack-built reports. */
    imageId?: string;
    /** The manifest size in bytes (the spec's example writes it as a string). */
    manifestSize?: number;
  };
}

/** Serializes report.toml with the spec's keys in the spec's order. */
export function serializeReport(report: Report): string {
  const image: Record<string, unknown> = { tags: report.image.tags };
  if (report.image.digest) image['digest'] = report.image.digest;
  if (report.image.imageId) image['image-id'] = report.image.imageId;
  if (report.image.manifestSize !== undefined) image['manifest-size'] = String(report.image.manifestSize);
  return `${stringify({ image })}\n`;
}
