import { hexOf, type Digest } from '../../registry/oci/index.js';
import type { ResourceDescriptor } from './statement.js';

/** lading's SLSA buildType: a CNB build by lading (inputs as described in docs/signing.md). */
export const LADING_BUILD_TYPE = 'urn:lading:build-type:cnb-build:v1';
/** The default builder id: lading itself on whatever machine runs it (override with --builder-id). */
export const LADING_BUILDER_ID = 'urn:lading:builder:local';

export interface ProvenanceBuildpack {
  id: string;
  version: string;
  homepage?: string;
}

export interface ProvenanceInput {
  /** builder.id: who ran the build (a CI system's URI, or lading's default). */
  builderId?: string;
  /** lading's version, recorded as builder.version.lading. */
  ladingVersion: string;
  /**
   * The build's inputs as the user gave them, without secrets: flag values and the *names* of build-time
   * variables, never their values; no absolute host paths.
   */
  externalParameters: Record<string, unknown>;
  /** The run image the app layers sit on: its reference and manifest digest. */
  runImage?: { reference: string; digest?: Digest };
  /** Buildpacks that took part (io.buildpacks.build.metadata). */
  buildpacks: ProvenanceBuildpack[];
  /** The app source: a digest of its files (sourceDigest). */
  source?: { name: string; digest: Digest };
  /** Only with `--creation-time now`: wall-clock times of the build. Omitted otherwise (reproducible). */
  startedOn?: string;
  finishedOn?: string;
}

/** Resolved dependencies: run image first, then buildpacks by id, then the source. */
export function resolvedDependencies(input: Pick<ProvenanceInput, 'runImage' | 'buildpacks' | 'source'>): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [];
  if (input.runImage) {
    const runImage: ResourceDescriptor = { name: 'run-image', uri: input.runImage.reference };
    if (input.runImage.digest) runImage.digest = { sha256: hexOf(input.runImage.digest) };
    deps.push(runImage);
  }
  const buildpacks = [...input.buildpacks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.version < b.version ? -1 : 1));
  for (const bp of buildpacks) {
    const d: ResourceDescriptor = { name: `buildpack:${bp.id}`, uri: `urn:cnb:buildpack:${bp.id}@${bp.version}`, annotations: { id: bp.id, version: bp.version } };
    if (bp.homepage) d.downloadLocation = bp.homepage;
    deps.push(d);
  }
  if (input.source) deps.push({ name: input.source.name, uri: 'urn:lading:source:app-dir', digest: { sha256: hexOf(input.source.digest) } });
  return deps;
}

/** A SLSA provenance v1 predicate (slsa.dev/provenance/v1) for a lading build. */
export function provenancePredicate(input: ProvenanceInput): Record<string, unknown> {
  const metadata: Record<string, string> = {};
  if (input.startedOn) metadata.startedOn = input.startedOn;
  if (input.finishedOn) metadata.finishedOn = input.finishedOn;
  return {
    buildDefinition: {
      buildType: LADING_BUILD_TYPE,
      externalParameters: input.externalParameters,
      internalParameters: {},
      resolvedDependencies: resolvedDependencies(input),
    },
    runDetails: {
      builder: { id: input.builderId ?? LADING_BUILDER_ID, version: { lading: input.ladingVersion } },
      metadata,
    },
  };
}
