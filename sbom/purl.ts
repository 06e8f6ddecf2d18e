import { PackageURL } from 'packageurl-js';

/** `pkg:deb/<vendor>/NAME@VERSION?arch=…&distro=<id>-<version>[&upstream=SRC]` (purl-spec deb type, as syft writes it). */
export function debPurl(p: { vendor: string; name: string; version: string; arch?: string; distro?: string; upstream?: string }): string {
  const qualifiers: Record<string, string> = {};
  if (p.arch) qualifiers.arch = p.arch;
  if (p.distro) qualifiers.distro = p.distro;
  if (p.upstream && p.upstream !== p.name) qualifiers.upstream = p.upstream;
  return new PackageURL('deb', p.vendor, p.name, p.version, Object.keys(qualifiers).length ? qualifiers : undefined, undefined).toString();
}

/** Parses a purl; the error message says what is wrong with it. */
export function checkPurl(purl: string): { ok: true; type: string } | { ok: false; message: string } {
  try {
    const p = PackageURL.fromString(purl);
    return { ok: true, type: p.type };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}
