import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { verifyFile, type ExpectedDigest } from './integrity.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * lading's extension of the platform contract (docs/lifecycle.md "Download store"): a directory shared by
 * every build on the machine where verified downloads are kept by their digest, so a second app (or a build
 * with an empty cache) on the same Node.js, Go or JDK does not fetch it again. Buildpacks see it in this
 * variable when the platform offers one; without it everything works as before.
 */
export const DOWNLOAD_STORE_ENV = 'LADING_DOWNLOAD_CACHE';

/**
 * Verified downloads by digest: `<dir>/<algorithm>/<hex>`. Only a file that matched its expected digest is
 * kept, and a kept file is verified again each time it is taken (a damaged one is removed and fetched
 * anew), so the store is trusted no more than the network is.
 */
export class DownloadStore {
  constructor(readonly dir: string) {}

  /** The store the platform offers in DOWNLOAD_STORE_ENV, if any. */
  static fromEnv(env: Env): DownloadStore | undefined {
    const dir = env[DOWNLOAD_STORE_ENV]?.trim();
    return dir ? new DownloadStore(dir) : undefined;
  }

  #path(expected: ExpectedDigest): string {
    return join(this.dir, expected.algorithm, expected.hex.toLowerCase());
  }

  /** SHA-1 names a file too weakly to share it between builds: such downloads are not kept. */
  #usable(expected: ExpectedDigest): boolean {
    return expected.algorithm !== 'sha1' && /^[0-9a-f]+$/i.test(expected.hex);
  }

  /**
   * Copies the kept file matching `expected` to `file` and verifies the copy; its sha256 (hex), or undefined
   * when the store has none (or had a damaged one, now removed).
   */
  async take(expected: ExpectedDigest, file: string, what: string): Promise<string | undefined> {
    if (!this.#usable(expected)) return undefined;
    try {
      await mkdir(dirname(file), { recursive: true });
      await copyFile(this.#path(expected), file, constants.COPYFILE_FICLONE);
    } catch {
      return undefined;
    }
    try {
      return await verifyFile(file, expected, what);
    } catch {
      await rm(file, { force: true });
      await rm(this.#path(expected), { force: true });
      return undefined;
    }
  }

  /** Keeps a copy of `file`, which the caller verified against `expected`. A store that cannot be written is skipped. */
  async keep(expected: ExpectedDigest, file: string): Promise<void> {
    if (!this.#usable(expected)) return;
    const path = this.#path(expected);
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dirname(path), { recursive: true });
      await copyFile(file, temp, constants.COPYFILE_FICLONE);
      await rename(temp, path);
    } catch {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }
}
