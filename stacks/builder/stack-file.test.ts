import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockMismatch, parseLock, serializeLock } from './lock-file.js';
import { parseStackFile } from './stack-file.js';
import { isDroppedDoc, usrMerged } from './deb.js';
import { statusRecord } from './rootfs.js';
import { parseControlRecords } from './apt.js';

const DIR = resolve(import.meta.dirname, '../bookworm');
const stack = parseStackFile(readFileSync(join(DIR, 'stack.toml'), 'utf8'), 'stack.toml', DIR);
const lock = parseLock(readFileSync(join(DIR, 'stack.lock'), 'utf8'), 'stack.lock');

describe('stack.toml', () => {
  it('reads the bookworm stack', () => {
    expect(stack.id).toBe('io.lading.stacks.bookworm');
    expect(stack.images.map((i) => `${i.name}:${i.kind}`)).toEqual(['build:build', 'run-base:run', 'run-static:run']);
    expect(stack.images[2]!.packages).toEqual([]);
  });

  it('names the file and key of a mistake', () => {
    const bad = (text: string) => () => parseStackFile(text, 'x/stack.toml', 'x');
    expect(bad('id = "a"\nname = "b"\nfoo = 1')).toThrow('x/stack.toml: foo is not a stack.toml key');
    expect(bad('id = [')).toThrow('x/stack.toml: not valid TOML');
    const base = 'id = "a"\nname = "b"\n[distro]\nname="debian"\nversion="12"\ncodename="bookworm"\n[user]\nname="cnb"\nuid=1000\ngid=1000\n';
    expect(bad(`${base}[images.r]\nkind = "run"\npackages = ["Bad_Name"]`)).toThrow('images.r.packages[0] "Bad_Name" has characters');
    expect(bad(`${base}[images.b]\nkind = "build"\npackages = ["bash"]`)).toThrow('defines no run image');
    expect(bad(`${base}[images.r]\nkind = "run"\npackages = ["a1"]\nstandalone-packages = ["a1"]`)).toThrow('lists "a1" in both');
  });
});

describe('stack.lock', () => {
  it('round-trips and matches stack.toml', () => {
    expect(parseLock(serializeLock(lock), 'stack.lock')).toEqual(lock);
    expect(lockMismatch(stack, lock, lock.architecture)).toBeUndefined();
  });

  it('says what changed when it no longer matches', () => {
    const edited = { ...stack, images: stack.images.map((i) => (i.name === 'run-base' ? { ...i, packages: [...i.packages, 'libsqlite3-0'].filter((p) => p !== 'zlib1g') } : i)) };
    expect(lockMismatch(edited, lock, lock.architecture)).toBe('image run-base packages changed (+libsqlite3-0 -zlib1g)');
    expect(lockMismatch(stack, lock, 'arm64')).toContain('resolved for amd64');
    expect(() => parseLock('lock-version = 1\nstack = "s"\narchitecture = "amd64"\n[[packages]]\nname = "a"\n', 'l')).toThrow(/l: packages\[0\]\.sha256.*run `lading stack lock`/);
  });
});

describe('package contents', () => {
  it('moves top-level dirs into /usr and drops docs but not copyright', () => {
    expect(usrMerged('/lib64/ld-linux-x86-64.so.2')).toBe('/usr/lib64/ld-linux-x86-64.so.2');
    expect(usrMerged('/etc/passwd')).toBe('/etc/passwd');
    expect(usrMerged('/library')).toBe('/library');
    expect(isDroppedDoc('/usr/share/doc/libc6/copyright')).toBe(false);
    expect(isDroppedDoc('/usr/share/doc/libc6/changelog.Debian.gz')).toBe(true);
    expect(isDroppedDoc('/usr/share/doc/libgcc-s1')).toBe(false);
    expect(isDroppedDoc('/usr/share/man/man1/ls.1.gz')).toBe(true);
  });

  it('writes a dpkg status record from a control file', () => {
    const record = statusRecord('Package: zlib1g\nVersion: 1:1.2.13.dfsg-1\nDescription: compression\n long text\n .\n more\n');
    const [fields] = parseControlRecords(record);
    expect([...fields!.keys()]).toEqual(['Package', 'Status', 'Version', 'Description']);
    expect(fields!.get('Status')).toBe('install ok installed');
    expect(fields!.get('Description')).toBe('compression\n long text\n .\n more');
  });
});
