import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DebEntry, ExtractedDeb } from './deb.js';
import { excludePatternProblem, ExcludeSet } from './exclude.js';
import { imageConfig, STACK_EXCLUDE_LABEL } from './image-config.js';
import { CA_BUNDLE, imageTree, STATUS_DIR } from './rootfs.js';
import { parseStackFile, type StackImage } from './stack-file.js';

const BASE = 'id = "a"\nname = "b"\n[distro]\nname="debian"\nversion="12"\ncodename="bookworm"\n[user]\nname="cnb"\nuid=1000\ngid=1000\n';
const withExclude = (exclude: string) => parseStackFile(`${BASE}[images.r]\nkind = "run"\nstandalone-packages = ["tzdata"]\nexclude = ${exclude}\n`, 'x/stack.toml', 'x');

describe('stack.toml exclude', () => {
  it('is read per image, in the order written; no key means nothing excluded', () => {
    const stack = withExclude('["/usr/share/zoneinfo/right", "/usr/share/doc/*/changelog*"]');
    expect(stack.images[0]!.exclude).toEqual(['/usr/share/zoneinfo/right', '/usr/share/doc/*/changelog*']);
    const none = parseStackFile(`${BASE}[images.r]\nkind = "run"\npackages = ["libc6"]\n`, 'x/stack.toml', 'x');
    expect(none.images[0]!.exclude).toEqual([]);
  });

  it('the bookworm stack leaves the single certificates and the right/ zones out of both run images only', () => {
    const dir = resolve(import.meta.dirname, '../bookworm');
    const stack = parseStackFile(readFileSync(join(dir, 'stack.toml'), 'utf8'), 'stack.toml', dir);
    expect(Object.fromEntries(stack.images.map((i) => [i.name, i.exclude]))).toEqual({
      build: [],
      'run-base': ['/usr/share/ca-certificates', '/usr/share/zoneinfo/right'],
      'run-static': ['/usr/share/ca-certificates', '/usr/share/zoneinfo/right'],
    });
  });

  it('names stack.toml, the key and the problem of a bad pattern', () => {
    const bad = (exclude: string) => () => withExclude(exclude);
    expect(bad('"/usr/share"')).toThrow('x/stack.toml: images.r.exclude must be an array of paths');
    expect(bad('[1]')).toThrow('x/stack.toml: images.r.exclude[0] must be a non-empty string');
    expect(bad('["usr/share/doc"]')).toThrow('x/stack.toml: images.r.exclude[0] "usr/share/doc" must be an absolute path');
    expect(bad('["/a", "/usr/share/zoneinfo/right/"]')).toThrow('x/stack.toml: images.r.exclude[1] "/usr/share/zoneinfo/right/" must not end with "/"');
    expect(bad('["/usr/share/../etc"]')).toThrow('images.r.exclude[0] "/usr/share/../etc" must not contain a ".." segment');
    expect(bad('["/usr//share"]')).toThrow('must not contain an empty segment');
    expect(bad('["/usr/share/a**"]')).toThrow('"**" must be a whole segment');
    expect(bad('["/usr/share/[ab"]')).toThrow('has an unclosed or nested "["');
    expect(bad('["/usr/share/a]"]')).toThrow('has a "]" without "["');
    expect(bad('["/usr/share/a\\\\b"]')).toThrow('must not contain "\\"');
    expect(bad('["/"]')).toThrow('images.r.exclude[0] "/" would leave out every file');
    expect(bad('["/**"]')).toThrow('would leave out every file');
    expect(bad('["/a", "/a"]')).toThrow('x/stack.toml: images.r.exclude lists "/a" twice');
  });

  it('rejects an unknown image key (a misspelt exclude is not ignored)', () => {
    expect(() => parseStackFile(`${BASE}[images.r]\nkind = "run"\npackages = ["libc6"]\nexcludes = ["/a"]\n`, 'x/stack.toml', 'x'))
      .toThrow('x/stack.toml: images.r.excludes is not an image key');
  });
});

describe('exclude glob semantics', () => {
  const m = (pattern: string, path: string) => {
    expect(excludePatternProblem(pattern)).toBeUndefined();
    return new ExcludeSet([pattern]).match(path) === 0;
  };

  it('a path leaves out itself and everything under it, but not a sibling sharing its prefix', () => {
    expect(m('/usr/share/zoneinfo/right', '/usr/share/zoneinfo/right')).toBe(true);
    expect(m('/usr/share/zoneinfo/right', '/usr/share/zoneinfo/right/Europe/Paris')).toBe(true);
    expect(m('/usr/share/zoneinfo/right', '/usr/share/zoneinfo/rightish')).toBe(false);
    expect(m('/usr/share/zoneinfo/right', '/usr/share/zoneinfo')).toBe(false);
    expect(m('/usr/share/zoneinfo/right', '/usr/share/zoneinfo/Europe/Paris')).toBe(false);
  });

  it('* and ? stay within one segment; [] is a class, [!] a negated one; dots are literal', () => {
    expect(m('/usr/share/doc/*/changelog*', '/usr/share/doc/tzdata/changelog.Debian.gz')).toBe(true);
    expect(m('/usr/share/doc/*/changelog*', '/usr/share/doc/a/b/changelog.gz')).toBe(false);
    expect(m('/usr/share/doc/*/changelog*', '/usr/share/doc/tzdata/copyright')).toBe(false);
    expect(m('/usr/lib/*.a', '/usr/lib/libx.a')).toBe(true);
    expect(m('/usr/lib/*.a', '/usr/lib/libxa')).toBe(false);
    expect(m('/usr/lib/*.a', '/usr/lib/x86_64-linux-gnu/libx.a')).toBe(false);
    expect(m('/etc/rc?.d', '/etc/rc5.d/S01x')).toBe(true);
    expect(m('/etc/rc?.d', '/etc/rc.d')).toBe(false);
    expect(m('/etc/rc[0-2].d', '/etc/rc1.d')).toBe(true);
    expect(m('/etc/rc[0-2].d', '/etc/rc5.d')).toBe(false);
    expect(m('/etc/rc[!0-2].d', '/etc/rc5.d')).toBe(true);
    expect(m('/etc/rc[!0-2].d', '/etc/rc1.d')).toBe(false);
    expect(m('/a/[]x]', '/a/]')).toBe(true);
    expect(m('/a/(b)+', '/a/(b)+')).toBe(true);
    expect(m('/a/(b)+', '/a/bb')).toBe(false);
  });

  it('** is any number of segments, also none', () => {
    expect(m('/usr/share/**/*.pyc', '/usr/share/x.pyc')).toBe(true);
    expect(m('/usr/share/**/*.pyc', '/usr/share/a/b/c/x.pyc')).toBe(true);
    expect(m('/usr/share/**/*.pyc', '/usr/lib/x.pyc')).toBe(false);
    expect(m('/usr/**/right', '/usr/share/zoneinfo/right/UTC')).toBe(true);
    expect(m('/usr/share/zoneinfo/**', '/usr/share/zoneinfo/UTC')).toBe(true);
  });

  it('says which pattern matched first', () => {
    const set = new ExcludeSet(['/a', '/b/*', '/b/c']);
    expect(set.match('/b/c')).toBe(1);
    expect(set.match('/a/x')).toBe(0);
    expect(set.match('/c')).toBe(-1);
  });
});

describe('imageTree with exclude', () => {
  const work = mkdtempSync(join(tmpdir(), 'lading-exclude-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  let n = 0;
  const file = (path: string, content: string): DebEntry => {
    const source = join(work, String(n++));
    writeFileSync(source, content);
    return { type: 'file', path, mode: 0o644, uid: 0, gid: 0, source, md5: createHash('md5').update(content).digest('hex') };
  };
  const dir = (path: string): DebEntry => ({ type: 'dir', path, mode: 0o755, uid: 0, gid: 0 });
  const pem = (name: string) => `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`;
  const debs: ExtractedDeb[] = [
    {
      name: 'ca-certificates',
      control: 'Package: ca-certificates\nVersion: 1\n',
      entries: [
        dir('/usr'), dir('/usr/share'), dir('/usr/share/ca-certificates'), dir('/usr/share/ca-certificates/mozilla'),
        file('/usr/share/ca-certificates/mozilla/A.crt', pem('A')), file('/usr/share/ca-certificates/mozilla/B.crt', pem('B')),
        dir('/usr/share/doc'), dir('/usr/share/doc/ca-certificates'), file('/usr/share/doc/ca-certificates/copyright', 'MPL-2.0'),
      ],
    },
    {
      name: 'tzdata',
      control: 'Package: tzdata\nVersion: 2\n',
      entries: [
        dir('/usr'), dir('/usr/share'), dir('/usr/share/zoneinfo'), dir('/usr/share/zoneinfo/Europe'), file('/usr/share/zoneinfo/Europe/Paris', 'TZif-paris'),
        { type: 'symlink', path: '/usr/share/zoneinfo/Europe/Monaco', target: 'Paris', uid: 0, gid: 0 },
        dir('/usr/share/zoneinfo/right'), dir('/usr/share/zoneinfo/right/Europe'), file('/usr/share/zoneinfo/right/Europe/Paris', 'TZif-right-paris'),
        { type: 'symlink', path: '/usr/share/zoneinfo/right/Europe/Monaco', target: 'Paris', uid: 0, gid: 0 },
        dir('/usr/share/doc/tzdata'), file('/usr/share/doc/tzdata/copyright', 'public domain'),
      ],
    },
  ];
  const image = (exclude: string[]): StackImage => ({ name: 'run-static', kind: 'run', description: '', packages: [], standalonePackages: ['ca-certificates', 'tzdata'], exclude, env: {}, labels: {} });
  const stack = withExclude('[]');
  const content = (tree: Awaited<ReturnType<typeof imageTree>>, path: string) => {
    const e = tree.entries.find((x) => x.path === path);
    return e?.type === 'file' && 'content' in e ? String(e.content) : undefined;
  };

  it('leaves the files out after the CA bundle is made; dpkg records stay, md5sums lists drop them', async () => {
    const full = await imageTree(stack, image([]), debs);
    const tree = await imageTree(stack, image(['/usr/share/ca-certificates', '/usr/share/zoneinfo/right']), debs);
    const paths = tree.entries.map((e) => e.path);
    expect(paths.filter((p) => p.startsWith('/usr/share/ca-certificates') || p.startsWith('/usr/share/zoneinfo/right'))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['/usr/share/zoneinfo/Europe/Paris', '/usr/share/zoneinfo/Europe/Monaco', '/usr/share/doc/tzdata/copyright', '/usr/share/doc/ca-certificates/copyright']));
    expect(tree.excluded).toBe(8);
    expect(tree.files).toBe(full.files - 3);
    expect(content(tree, CA_BUNDLE)).toBe(pem('A') + pem('B'));
    expect(content(tree, CA_BUNDLE)).toBe(content(full, CA_BUNDLE));
    expect(content(tree, `${STATUS_DIR}/tzdata`)).toBe(content(full, `${STATUS_DIR}/tzdata`));
    expect(content(tree, `${STATUS_DIR}/ca-certificates`)).toContain('Status: install ok installed');
    expect(content(full, `${STATUS_DIR}/tzdata.md5sums`)).toContain('usr/share/zoneinfo/right/Europe/Paris');
    const sums = content(tree, `${STATUS_DIR}/tzdata.md5sums`)!;
    expect(sums.trim().split('\n').map((l) => l.split('  ')[1])).toEqual(['usr/share/doc/tzdata/copyright', 'usr/share/zoneinfo/Europe/Paris']);
    expect(content(tree, `${STATUS_DIR}/ca-certificates.md5sums`)).toBe(`${createHash('md5').update('MPL-2.0').digest('hex')}  usr/share/doc/ca-certificates/copyright\n`);
  });

  it('is deterministic and records the patterns in a sorted label', async () => {
    const a = await imageTree(stack, image(['/usr/share/zoneinfo/right', '/usr/share/ca-certificates']), debs);
    const b = await imageTree(stack, image(['/usr/share/ca-certificates', '/usr/share/zoneinfo/right']), debs);
    expect(a.entries.map((e) => e.path)).toEqual(b.entries.map((e) => e.path));
    const labels = (exclude: string[]) => imageConfig(stack, image(exclude), a.packages).labels!;
    expect(labels(['/usr/share/zoneinfo/right', '/usr/share/ca-certificates'])[STACK_EXCLUDE_LABEL]).toBe('["/usr/share/ca-certificates","/usr/share/zoneinfo/right"]');
    expect(labels([])).not.toHaveProperty(STACK_EXCLUDE_LABEL);
  });

  it('refuses a pattern that matches nothing, takes a copyright file, or strands a kept link — naming stack.toml and the key', async () => {
    await expect(imageTree(stack, image(['/usr/share/zoneinfo/right', '/usr/share/zonenfo/left']), debs)).rejects.toThrow(
      'x/stack.toml: images.run-static.exclude[1] "/usr/share/zonenfo/left" matches no file of the image\'s packages');
    await expect(imageTree(stack, image(['/usr/share/doc']), debs)).rejects.toThrow(
      'x/stack.toml: images.run-static.exclude[0] "/usr/share/doc" would leave out /usr/share/doc/ca-certificates/copyright: copyright files stay');
    await expect(imageTree(stack, image(['/usr/share/zoneinfo/Europe/Paris']), debs)).rejects.toThrow(
      'x/stack.toml: images.run-static.exclude[0] "/usr/share/zoneinfo/Europe/Paris" leaves out /usr/share/zoneinfo/Europe/Paris, but the link /usr/share/zoneinfo/Europe/Monaco → Paris stays');
    const both = await imageTree(stack, image(['/usr/share/zoneinfo/*/Paris', '/usr/share/zoneinfo/*/Monaco']), debs);
    // `*` is one segment: right/Europe/… is two segments below zoneinfo and stays.
    expect(both.entries.map((e) => e.path).filter((p) => p.includes('Paris') || p.includes('Monaco')).sort())
      .toEqual(['/usr/share/zoneinfo/right/Europe/Monaco', '/usr/share/zoneinfo/right/Europe/Paris']);
  });
});
