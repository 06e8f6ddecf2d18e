import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBindingVolume, writeBindings } from './bindings.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function temp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lading-bindings-'));
  dirs.push(d);
  return d;
}

describe('service bindings from --volume', () => {
  it("parses pack's syntax and refuses other mounts", () => {
    expect(parseBindingVolume('conf/m2:/platform/bindings/maven-settings', '/home/u')).toEqual({ name: 'maven-settings', source: '/home/u/conf/m2' });
    expect(parseBindingVolume('/abs:/platform/bindings/x:ro').source).toBe('/abs');
    expect(() => parseBindingVolume('/abs:/etc/x')).toThrow(/mounts only service bindings, at \/platform\/bindings\/<name>/);
    expect(() => parseBindingVolume('/abs:/platform/bindings/x:rw')).toThrow(/expected <host-dir>:\/platform\/bindings\/<name>\[:ro\]/);
    expect(() => parseBindingVolume('/abs:/platform/bindings/a/b')).toThrow(/mounts only service bindings/);
    expect(() => parseBindingVolume('/abs')).toThrow(/expected/);
  });

  it('copies each binding into <platform>/bindings and checks its type file first', async () => {
    const src = await temp();
    await writeFile(join(src, 'type'), 'maven');
    await writeFile(join(src, 'settings.xml'), '<settings/>');
    const platform = await temp();
    expect(await writeBindings(platform, '/platform', [{ name: 'm2', source: src }])).toBe('/platform/bindings');
    expect(await readFile(join(platform, 'bindings/m2/settings.xml'), 'utf8')).toBe('<settings/>');
    expect(await writeBindings(platform, '/platform', [])).toBeUndefined();

    const untyped = await temp();
    await mkdir(join(untyped, 'x'));
    await expect(writeBindings(platform, '/platform', [{ name: 'u', source: untyped }])).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining(`${join(untyped, 'type')}: the binding u needs a type file`) });
    await expect(writeBindings(platform, '/platform', [{ name: 'n', source: join(untyped, 'missing') }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(writeBindings(platform, '/platform', [{ name: 'd', source: src }, { name: 'd', source: src }])).rejects.toThrow(/two bindings are named d/);
  });
});
