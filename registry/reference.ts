import { LadingError, isDigest, type Digest } from './oci/index.js';

/**
 * Image references and transports, as docker/pack parse names and skopeo spells transports (design §6).
 *   docker://host[:port]/repo[:tag][@digest]   a registry
 *   oci:DIR[:TAG|:sha256:…]                    an OCI image layout directory
 *   oci-archive:FILE[:TAG]                     a tar of an OCI image layout
 *   docker-archive:FILE[:NAME[:TAG]]           a `docker save`/`docker load` tar
 *   NAME                                       the local image store (a registry-style name)
 */
export interface RegistryReference {
  transport: 'docker';
  /** Registry host as written, docker.io for Docker Hub. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}
export interface LayoutReference { transport: 'oci'; path: string; tag?: string; digest?: Digest }
export interface OciArchiveReference { transport: 'oci-archive'; path: string; tag?: string }
export interface DockerArchiveReference { transport: 'docker-archive'; path: string; name?: RegistryReference }
export interface StoreReference { transport: 'store'; name: RegistryReference }

export type ImageReference = RegistryReference | LayoutReference | OciArchiveReference | DockerArchiveReference | StoreReference;
export type Transport = ImageReference['transport'];

export const DOCKER_HUB = 'docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6 = /^\[[0-9a-fA-F:]+\]$/;

export class ReferenceError extends LadingError {
  constructor(input: string, why: string) {
    super('REFERENCE_INVALID', `invalid image reference "${input}": ${why}`);
    this.name = 'ReferenceError';
  }
}

/** Parses `host[:port]/repo[:tag][@digest]` with docker's defaults (docker.io, library/). */
export function parseRegistryReference(input: string): RegistryReference {
  if (input === '') throw new ReferenceError(input, 'empty');
  if (input.length > 4096) throw new ReferenceError(input.slice(0, 64), 'too long');
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw new ReferenceError(input, `"${d}" is not a sha256 digest`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw new ReferenceError(input, `"${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    registry = first;
    parts.shift();
    const [host, port, extra] = registry.split(/:(?=[^\]]*$)/);
    if (extra !== undefined || !host || !(IPV6.test(host) || host.split('.').every((c) => DOMAIN_COMPONENT.test(c)))) {
      throw new ReferenceError(input, `"${registry}" is not a valid registry host`);
    }
    if (port !== undefined && !/^\d{1,5}$/.test(port)) throw new ReferenceError(input, `"${port}" is not a valid port`);
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    const bad = parts.find((p) => !COMPONENT.test(p)) ?? '';
    throw new ReferenceError(input, bad === '' ? 'repository name is empty' : `"${bad}" is not a valid repository name component (lowercase letters, digits, separators)`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw new ReferenceError(input, 'repository name longer than 255 characters');
  const ref: RegistryReference = { transport: 'docker', registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Parses any reference; a string without a transport prefix names the local image store. */
export function parseReference(input: string): ImageReference {
  const m = /^([a-z][a-z-]*):(.*)$/s.exec(input);
  const scheme = m?.[1];
  // A bare `host:port/repo` also matches the prefix pattern; only known transports (and `docker://`) count.
  if (m && scheme && !(m[2] ?? '').match(/^\d/) && !input.startsWith('localhost:')) {
    const rest = m[2] ?? '';
    switch (scheme) {
      case 'docker':
        if (!rest.startsWith('//')) throw new ReferenceError(input, 'the docker transport is written docker://REF');
        return parseRegistryReference(rest.slice(2));
      case 'oci': {
        const { path, suffix } = splitPath(input, rest);
        if (suffix === undefined) return { transport: 'oci', path };
        if (suffix.startsWith('sha256:')) {
          if (!isDigest(suffix)) throw new ReferenceError(input, `"${suffix}" is not a sha256 digest`);
          return { transport: 'oci', path, digest: suffix };
        }
        checkTag(input, suffix);
        return { transport: 'oci', path, tag: suffix };
      }
      case 'oci-archive': {
        const { path, suffix } = splitPath(input, rest);
        if (suffix === undefined) return { transport: 'oci-archive', path };
        checkTag(input, suffix);
        return { transport: 'oci-archive', path, tag: suffix };
      }
      case 'docker-archive': {
        const { path, suffix } = splitPath(input, rest);
        if (suffix === undefined) return { transport: 'docker-archive', path };
        const name = parseRegistryReference(suffix);
        if (name.digest) throw new ReferenceError(input, 'docker-archive names take a tag, not a digest');
        return { transport: 'docker-archive', path, name };
      }
      default:
        // `myapp:latest` is a store name with a tag; `dir:/x`, `ftp://…`, `docker-daemon:a:b` are transports we lack.
        if (!TAG.test(rest)) {
          throw new LadingError('TRANSPORT_UNKNOWN', `unknown transport "${scheme}:" in "${input}" (known: docker://, oci:, oci-archive:, docker-archive:, or a bare name for the local store)`);
        }
    }
  }
  return { transport: 'store', name: parseRegistryReference(input) };
}

function splitPath(input: string, rest: string): { path: string; suffix?: string } {
  const i = rest.indexOf(':');
  const path = i < 0 ? rest : rest.slice(0, i);
  if (path === '') throw new ReferenceError(input, 'path is empty');
  return i < 0 ? { path } : { path, suffix: rest.slice(i + 1) };
}

function checkTag(input: string, tag: string): void {
  if (!/^[A-Za-z0-9._\-:@/+]+$/.test(tag)) throw new ReferenceError(input, `"${tag}" is not a valid tag`);
}

/** The form people type: docker.io/library/ dropped, tag or digest kept. */
export function familiarName(ref: RegistryReference): string {
  let repo = ref.repository;
  if (ref.registry === DOCKER_HUB && repo.startsWith('library/') && repo.split('/').length === 2) repo = repo.slice('library/'.length);
  const base = ref.registry === DOCKER_HUB ? repo : `${ref.registry}/${repo}`;
  return `${base}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The reference with `latest` filled in when it has neither tag nor digest. */
export function withDefaultTag(ref: RegistryReference): RegistryReference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

export function formatReference(ref: ImageReference): string {
  switch (ref.transport) {
    case 'docker':
      return `docker://${familiarName(ref)}`;
    case 'oci':
      return `oci:${ref.path}${ref.tag ? `:${ref.tag}` : ref.digest ? `:${ref.digest}` : ''}`;
    case 'oci-archive':
      return `oci-archive:${ref.path}${ref.tag ? `:${ref.tag}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${ref.path}${ref.name ? `:${familiarName(ref.name)}` : ''}`;
    case 'store':
      return familiarName(ref.name);
  }
}
