/** What a source knows about one version before downloading it: enough to decide reuse. */
export interface DependencyDescription {
  name: string;
  version: string;
  /** The checksum the source records, as the source spells it: `sha512-<base64>` (SRI) or `sha256:<hex>`. */
  checksum: string;
  /** Where it comes from (a URL, an apt package spec, or a host path). */
  uri: string;
  purl: string;
  cpe?: string;
  licenses: string[];
  /** Which kind of source: npm, apt, catalog, host. */
  source: string;
}

/** A downloaded (or located) dependency, verified against the source's checksum. */
export interface FetchedDependency extends DependencyDescription {
  /** The downloaded file (tarball, .deb) or, for the host source, the tool's path. */
  path: string;
  /** Hex sha256 of `path` (for SBOM hashes and cache keys). */
  sha256: string;
  /** Taken from the platform's download store (DOWNLOAD_STORE_ENV) instead of the network. */
  fromStore?: boolean;
}

/** A place dependencies come from (design.md §8): npm registry, apt, a catalog, the host. */
export interface DependencySource {
  readonly kind: string;
  /** The versions available for `name`, in the source's spelling. */
  versions(name: string): Promise<string[]>;
  /** Metadata of one version without downloading it. */
  describe(name: string, version: string): Promise<DependencyDescription>;
  /** Downloads one version into `dir` and verifies it. */
  fetch(name: string, version: string, dir: string): Promise<FetchedDependency>;
}
