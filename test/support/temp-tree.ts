import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Temporary directory trees for tests: `create({ 'a/b.toml': '...' }, ['empty-dir'])` makes a fresh dir
 * with those files and directories; `cleanup()` (call it in afterEach/afterAll) removes every tree made.
 */
export function tempTrees(prefix = 'lading-test-') {
  const made: string[] = [];
  return {
    async create(files: Record<string, string> = {}, dirs: string[] = []): Promise<string> {
      const root = await mkdtemp(join(tmpdir(), prefix));
      made.push(root);
      for (const d of dirs) await mkdir(join(root, d), { recursive: true });
      for (const [name, text] of Object.entries(files)) {
        await mkdir(dirname(join(root, name)), { recursive: true });
        await writeFile(join(root, name), text);
      }
      return root;
    },
    async cleanup(): Promise<void> {
      for (const d of made.splice(0)) await rm(d, { recursive: true, force: true });
    },
  };
}
