import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLayer, NORMALIZED_MTIME, type FileLayer } from '../../registry/layers/index.js';
import { appendLayers, emptyImage, withConfig, NORMALIZED_TIME } from '../../registry/mutate/index.js';
import type { Image } from '../../registry/oci/index.js';
import { AptSession, fileExists, runCommand, sha256File, type CommandRunner } from './apt.js';
import { extractDeb, type ExtractedDeb } from './deb.js';
import { checkLock, readLock, serializeLock, type LockedPackage, type StackLock } from './lock-file.js';
import { imageConfig, ociPlatform } from './image-config.js';
import { imageTree } from './rootfs.js';
import { LOCK_FILE, readStackFile, StackError, type StackDefinition } from './stack-file.js';

export type StackEvent =
  | { type: 'resolve'; image: string }
  | { type: 'download'; packages: number }
  | { type: 'extract'; package: string }
  | { type: 'layer'; image: string; files: number };

export interface StackOptions {
  /** Sources file replacing the machine's apt sources. */
  sources?: string;
  run?: CommandRunner;
  tempDir?: string;
  onEvent?: (e: StackEvent) => void;
}

/** The machine's Debian architecture (`dpkg --print-architecture`). */
export async function hostArchitecture(run: CommandRunner = runCommand): Promise<string> {
  const r = await run('dpkg', ['--print-architecture'], {});
  const arch = r.stdout.trim();
  if (r.code !== 0 || !arch) throw new StackError('INTERNAL', `dpkg --print-architecture failed: ${r.stderr.trim()}`);
  return arch;
}

async function targetArchitecture(stack: StackDefinition, options: StackOptions): Promise<string> {
  return stack.architecture ?? (await hostArchitecture(options.run));
}

/** Resolves every image's packages through apt (throwaway state, the machine's sources). */
export async function resolveStack(stack: StackDefinition, options: StackOptions = {}): Promise<StackLock> {
  const architecture = await targetArchitecture(stack, options);
  const apt = await AptSession.open({ architecture, ...(options.sources ? { sources: options.sources } : {}), ...(options.run ? { run: options.run } : {}), ...(options.tempDir ? { tempDir: options.tempDir } : {}) });
  try {
    const codenames = await apt.codenames();
    const foreign = codenames.filter((c) => c !== stack.distro.codename && !c.startsWith(`${stack.distro.codename}-`));
    if (codenames.length === 0 || foreign.length > 0) {
      throw new StackError('CONTENT_INVALID', `${stack.file}: the apt sources list ${codenames.join(', ') || 'nothing'}, but the stack is ${stack.distro.name} ${stack.distro.codename}; pass --apt-sources FILE with ${stack.distro.codename} sources`);
    }
    const all = new Map<string, LockedPackage>();
    const images: StackLock['images'] = {};
    for (const image of stack.images) {
      options.onEvent?.({ type: 'resolve', image: image.name });
      const where = `${stack.file} images.${image.name}`;
      const choices = [...(await apt.choose(image.packages, true, where)), ...(await apt.choose(image.standalonePackages, false, where))];
      const records = await apt.records(choices);
      for (const r of records) {
        const had = all.get(r.name);
        if (had && had.sha256 !== r.sha256) throw new StackError('CONTENT_INVALID', `${where}: apt chose ${r.name} ${r.version} here and ${had.version} elsewhere`);
        all.set(r.name, r);
      }
      images[image.name] = { packages: image.packages, standalonePackages: image.standalonePackages, resolved: [...new Set(records.map((r) => r.name))].sort() };
    }
    return { file: join(stack.dir, LOCK_FILE), stack: stack.id, architecture, images, packages: [...all.values()] };
  } finally {
    await apt.close();
  }
}

/** `stack lock`: resolves and writes `<dir>/stack.lock`. */
export async function lockStack(dir: string, options: StackOptions = {}): Promise<StackLock> {
  const stack = await readStackFile(dir);
  const lock = await resolveStack(stack, options);
  await writeFile(lock.file, serializeLock(lock));
  return lock;
}

export interface BuildStackOptions extends StackOptions {
  /** Where verified .debs are kept between builds (`<sha256>.deb`); default a temp dir removed afterwards. */
  debCache?: string;
  /** Re-resolve and rewrite the lock first (`--update`). */
  update?: boolean;
}

export interface BuiltStackImage {
  /** The image key: build, run-base, run-static. */
  name: string;
  kind: 'build' | 'run';
  image: Image;
  /** The layer's blob lives in a temp file until disposed. */
  layers: FileLayer[];
  packages: Record<string, string>;
}

export interface BuiltStack {
  stack: StackDefinition;
  lock: StackLock;
  images: BuiltStackImage[];
  /** Removes the layer temp files. */
  dispose(): Promise<void>;
}

/** Fetches every locked .deb into `cache` (skipping ones already there with the right sha256). */
async function ensureDebs(lock: StackLock, cache: string, options: BuildStackOptions): Promise<void> {
  await mkdir(cache, { recursive: true });
  const missing: LockedPackage[] = [];
  for (const p of lock.packages) {
    const path = join(cache, `${p.sha256}.deb`);
    if (!(await fileExists(path)) || (await sha256File(path)) !== p.sha256) missing.push(p);
  }
  if (missing.length === 0) return;
  options.onEvent?.({ type: 'download', packages: missing.length });
  const apt = await AptSession.open({ architecture: lock.architecture, ...(options.sources ? { sources: options.sources } : {}), ...(options.run ? { run: options.run } : {}), ...(options.tempDir ? { tempDir: options.tempDir } : {}) });
  try {
    await apt.download(missing, cache);
  } finally {
    await apt.close();
  }
}

/**
 * `stack build`: the images of `<dir>` from exactly the locked packages. Same lock → same digests: fixed
 * mtimes and `created`, whatever SOURCE_DATE_EPOCH says. Nothing is written anywhere: the caller picks a sink.
 */
export async function buildStack(dir: string, options: BuildStackOptions = {}): Promise<BuiltStack> {
  const stack = await readStackFile(dir);
  const architecture = await targetArchitecture(stack, options);
  let lock: StackLock;
  if (options.update) {
    lock = await lockStack(dir, options);
  } else {
    lock = await readLock(dir);
    checkLock(stack, lock, architecture);
  }
  const work = await mkdtemp(join(options.tempDir ?? tmpdir(), 'lading-stack-'));
  const built: BuiltStackImage[] = [];
  try {
    const cache = options.debCache ?? join(work, 'debs');
    await ensureDebs(lock, cache, options);
    const extracted = new Map<string, ExtractedDeb>();
    const extract = async (name: string): Promise<ExtractedDeb> => {
      let deb = extracted.get(name);
      if (!deb) {
        const p = lock.packages.find((x) => x.name === name)!;
        options.onEvent?.({ type: 'extract', package: name });
        deb = await extractDeb(join(cache, `${p.sha256}.deb`), join(work, 'files', name));
        if (deb.name !== name) throw new StackError('CONTENT_INVALID', `${p.filename}: the archive's package is ${deb.name}, the lock says ${name}`);
        extracted.set(name, deb);
      }
      return deb;
    };
    const platform = ociPlatform(lock.architecture);
    for (const image of stack.images) {
      const debs: ExtractedDeb[] = [];
      for (const name of lock.images[image.name]!.resolved) debs.push(await extract(name));
      const tree = await imageTree(stack, image, debs);
      options.onEvent?.({ type: 'layer', image: image.name, files: tree.files });
      const layer = await createLayer({ entries: tree.entries }, { uid: 0, gid: 0, mtime: NORMALIZED_MTIME, tempDir: work });
      const config = imageConfig(stack, image, tree.packages);
      const base = emptyImage(platform, NORMALIZED_TIME);
      const img = withConfig(
        appendLayers(base, { layer, history: { created: NORMALIZED_TIME, created_by: `lading stack build: ${Object.keys(tree.packages).length} Debian packages` } }),
        config,
      );
      built.push({ name: image.name, kind: image.kind, image: img, layers: [layer], packages: tree.packages });
    }
    await rm(join(work, 'files'), { recursive: true, force: true });
    if (!options.debCache) await rm(cache, { recursive: true, force: true });
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
  return {
    stack, lock, images: built,
    dispose: async () => {
      await Promise.all(built.flatMap((b) => b.layers.map((l) => l.dispose())));
      await rm(work, { recursive: true, force: true });
    },
  };
}

