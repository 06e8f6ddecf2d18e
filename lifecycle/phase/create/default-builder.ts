import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { imageFromSource, writeImage } from '../../../registry/image/index.js';
import { openStoreSink, openStoreSource, storeHome, withFileLock, type StoreOptions } from '../../../registry/layout/index.js';
import { isLadingError, type ContentSink, type Image } from '../../../registry/oci/index.js';
import { familiarName, parseRegistryReference, type StoreReference } from '../../../registry/reference.js';
import {
  readLock, readStackFile, stackExcludeLabel, STACK_EXCLUDE_LABEL, STACK_PACKAGES_LABEL, type BuildStackOptions, type StackImage, type StackLock,
} from '../../../stacks/builder/index.js';

/** The stack the default builder runs on, and where its builder.toml lives (stacks/<name>/builder.toml). */
export const DEFAULT_STACK = 'bookworm';

/**
 * The directory of the default builder: `stacks/bookworm` of this lading installation (the source tree or
 * the npm package, which ships `stacks/` and `buildpacks/`), found by walking up from this module.
 */
export function defaultBuilderDir(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'stacks', DEFAULT_STACK);
    if (existsSync(join(candidate, 'builder.toml')) && existsSync(join(candidate, 'stack.toml'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`no stacks/${DEFAULT_STACK}/builder.toml above ${from}: the lading installation is incomplete`);
  }
}

/** The local store name of a stack image: what `lading stack build DIR` writes by default. */
export function stackImageRef(stackName: string, image: string): StoreReference {
  return { transport: 'store', name: parseRegistryReference(`lading/stacks/${stackName}/${image}:latest`) };
}

export type EnsureStackEvent =
  | { type: 'reuse'; stack: string }
  | { type: 'build'; stack: string; reason: string }
  | { type: 'wait'; lock: string }
  | { type: 'built'; stack: string; images: { name: string; digest: string }[] };

export interface EnsureStackOptions extends Pick<StoreOptions, 'env' | 'home'> {
  /** Passed to buildStack (deb cache default `<store home>/cache/debs`, apt sources, progress events). */
  build?: Omit<BuildStackOptions, 'update'>;
  /** How long to wait for another lading building the same stack (default 15 min). */
  lockTimeoutMs?: number;
  onEvent?: (e: EnsureStackEvent) => void;
}

export interface EnsuredStack {
  stack: string;
  /** Store references of every image of the stack, by image key (`run-base`, `run-static`, `build`). */
  images: Record<string, StoreReference>;
  /** Whether this call built them (first use, or the lock changed since they were built). */
  built: boolean;
}

/**
 * The stack's images in the local store, built from its committed lock on first use (or when the store's
 * images no longer match the lock) and reused afterwards. A lock file in the store home serializes
 * concurrent first builds: the second waits, then finds the images there.
 */
export async function ensureStack(stackDir: string, options: EnsureStackOptions = {}): Promise<EnsuredStack> {
  const store = { ...(options.env ? { env: options.env } : {}), ...(options.home ? { home: options.home } : {}) };
  const stack = await readStackFile(stackDir);
  const images = Object.fromEntries(stack.images.map((i) => [i.name, stackImageRef(stack.name, i.name)]));
  const home = storeHome(store);
  const lockPath = join(home, 'stacks', `${stack.name}.lock`);
  await mkdir(dirname(lockPath), { recursive: true });
  const timeoutMs = options.lockTimeoutMs ?? 15 * 60_000;
  const lock = await readLock(stackDir);
  const waitTimer = setTimeout(() => options.onEvent?.({ type: 'wait', lock: lockPath }), 500);
  return withFileLock(lockPath, async () => {
    clearTimeout(waitTimer);
    const stale = await staleReason(lock, images, store, stack.images);
    if (!stale) {
      options.onEvent?.({ type: 'reuse', stack: stack.id });
      return { stack: stack.id, images, built: false };
    }
    options.onEvent?.({ type: 'build', stack: stack.id, reason: stale });
    // the SBOM code loads only when the stack has to be built, not in every `lading build`
    const [{ buildStack }, { putStackSbom }] = await Promise.all([import('../../../stacks/builder/index.js'), import('../../../sbom/index.js')]);
    const built = await buildStack(stackDir, { debCache: join(home, 'cache', 'debs'), ...options.build });
    try {
      // Every image written first, then committed: a failure leaves none of them tagged.
      const sinks: ContentSink[] = [];
      try {
        for (const b of built.images) {
          const sink = await openStoreSink(images[b.name]!, store);
          sinks.push(sink);
          await writeImage(sink, b.image);
          await putStackSbom(sink, b.image, familiarName(images[b.name]!.name));
        }
        for (const sink of sinks) await sink.commit();
      } catch (err) {
        await Promise.all(sinks.map((s) => s.abort().catch(() => undefined)));
        throw err;
      }
      options.onEvent?.({ type: 'built', stack: stack.id, images: built.images.map((b) => ({ name: b.name, digest: b.image.descriptor.digest })) });
    } finally {
      await built.dispose();
    }
    return { stack: stack.id, images, built: true };
  }, { timeoutMs, staleMs: timeoutMs }).finally(() => clearTimeout(waitTimer));
}

/** Why the store's images must be (re)built, or undefined when every one is there with the lock's packages. */
async function staleReason(lock: StackLock, images: Record<string, StoreReference>, store: StoreOptions, defined: readonly StackImage[]): Promise<string | undefined> {
  const versions = new Map(lock.packages.map((p) => [p.name, p.version]));
  for (const [name, ref] of Object.entries(images)) {
    const image = await storedImage(ref, store);
    if (!image) return `${name} is not in the local store`;
    const def = defined.find((i) => i.name === name);
    if (def && image.config.config?.Labels?.[STACK_EXCLUDE_LABEL] !== stackExcludeLabel(def)) return `${name} in the local store was built with another exclude list`;
    const want = Object.fromEntries((lock.images[name]?.resolved ?? []).map((p) => [p, versions.get(p) ?? '']));
    const label = image.config.config?.Labels?.[STACK_PACKAGES_LABEL];
    let have: Record<string, string> = {};
    try {
      have = label ? (JSON.parse(label) as Record<string, string>) : {};
    } catch {
      return `${name} in the local store has an unreadable ${STACK_PACKAGES_LABEL} label`;
    }
    if (!samePackages(want, have)) return `${name} in the local store was built from another ${lock.file}`;
  }
  return undefined;
}

function samePackages(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

async function storedImage(ref: StoreReference, store: StoreOptions): Promise<Image | undefined> {
  const source = await openStoreSource(ref, store);
  try {
    return await imageFromSource(source, await source.resolve());
  } catch (err) {
    if (isLadingError(err) && err.code === 'NOT_FOUND') return undefined;
    throw err;
  } finally {
    await source.close();
  }
}
