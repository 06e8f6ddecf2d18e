import type { ConfigChanges } from '../../registry/mutate/index.js';
import type { Platform } from '../../registry/oci/index.js';
import { StackError, type StackDefinition, type StackImage } from './stack-file.js';

/** Labels lading adds to stack images (beside the `io.buildpacks.base.*` ones). */
export const STACK_IMAGE_LABEL = 'io.lading.stack.image';
/** JSON object package → version of the Debian packages in the image: rebase compares them. */
export const STACK_PACKAGES_LABEL = 'io.lading.stack.packages';
/**
 * JSON array (sorted) of the image's `exclude` patterns, on images that have some: a changed list changes
 * the image (and its digest) and lets a store tell images built with another list from current ones.
 */
export const STACK_EXCLUDE_LABEL = 'io.lading.stack.exclude';

/** The `io.lading.stack.exclude` value stack.toml asks for `image`: undefined when it excludes nothing. */
export function stackExcludeLabel(image: Pick<StackImage, 'exclude'>): string | undefined {
  return image.exclude.length === 0 ? undefined : JSON.stringify([...image.exclude].sort());
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const ARCHITECTURES: Record<string, Platform> = {
  amd64: { os: 'linux', architecture: 'amd64' },
  arm64: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  armhf: { os: 'linux', architecture: 'arm', variant: 'v7' },
  armel: { os: 'linux', architecture: 'arm', variant: 'v5' },
  i386: { os: 'linux', architecture: '386' },
  ppc64el: { os: 'linux', architecture: 'ppc64le' },
  s390x: { os: 'linux', architecture: 's390x' },
  riscv64: { os: 'linux', architecture: 'riscv64' },
};

/** The OCI platform of a Debian architecture. */
export function ociPlatform(debianArch: string): Platform {
  const p = ARCHITECTURES[debianArch];
  if (!p) throw new StackError('UNSUPPORTED', `Debian architecture ${debianArch} has no OCI platform lading knows (${Object.keys(ARCHITECTURES).join(', ')})`);
  return p;
}

function sortedJson(record: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]])));
}

/**
 * Env, user and labels of one stack image: PATH (unless the stack sets it), the stack's and the image's
 * env, `CNB_USER_ID`/`CNB_GROUP_ID` on the build image (platform.md "Build Image"), the non-root user,
 * target labels (`io.buildpacks.base.*`), `io.buildpacks.rebasable=true`, the package list and the
 * exclude patterns (when there are any).
 */
export function imageConfig(stack: StackDefinition, image: StackImage, packages: Record<string, string>): ConfigChanges {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, ...stack.env, ...image.env };
  if (image.kind === 'build') {
    env.CNB_USER_ID = String(stack.user.uid);
    env.CNB_GROUP_ID = String(stack.user.gid);
  }
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': `${stack.name}/${image.name}`,
    ...(image.description ? { 'org.opencontainers.image.description': image.description, 'io.buildpacks.base.description': image.description } : {}),
    ...stack.labels,
    ...image.labels,
    'io.buildpacks.base.id': stack.id,
    'io.buildpacks.stack.id': stack.id,
    'io.buildpacks.base.distro.name': stack.distro.name,
    'io.buildpacks.base.distro.version': stack.distro.version,
    'io.buildpacks.rebasable': 'true',
    [STACK_IMAGE_LABEL]: image.name,
    [STACK_PACKAGES_LABEL]: sortedJson(packages),
  };
  const exclude = stackExcludeLabel(image);
  if (exclude !== undefined) labels[STACK_EXCLUDE_LABEL] = exclude;
  return {
    env: Object.keys(env).sort().map((k) => `${k}=${env[k]}`),
    user: `${stack.user.uid}:${stack.user.gid}`,
    labels,
  };
}
