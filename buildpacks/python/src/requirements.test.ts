import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRequirements } from './requirements.js';

const dir = mkdtempSync(join(tmpdir(), 'lading-python-req-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
};

describe('requirements files as pip reads them', () => {
  it('accepts PEP 508 requirements, options, paths, URLs, continuations and comments; follows -r and -c', async () => {
    file('constraints.txt', 'urllib3<3\n');
    file('base.txt', '-c constraints.txt\nrequests[socks,security] >= 2.31, <3 ; python_version >= "3.8"\n');
    const r = await readRequirements(
      file(
        'requirements.txt',
        [
          '# comment',
          '-r base.txt',
          '--no-index',
          '--find-links /srv/wheels',
          'Flask==3.0.* # inline comment',
          'gunicorn \\',
          '  >=21',
          'pkg @ https://files.example/pkg-1.0.tar.gz',
          './vendor/local_pkg-1.0-py3-none-any.whl',
          'hashed==1.0 --hash=sha256:abcdef',
          'zope.interface',
        ].join('\n'),
      ),
      dir,
    );
    expect([...r.files.keys()].map((f) => f.slice(dir.length + 1))).toEqual(['requirements.txt', 'base.txt', 'constraints.txt']);
    expect(r.requirements.map((l) => `${l.line}:${l.text}`)).toEqual([
      '1:urllib3<3',
      '2:requests[socks,security] >= 2.31, <3 ; python_version >= "3.8"',
      '5:Flask==3.0.*',
      '6:gunicorn   >=21',
      '8:pkg @ https://files.example/pkg-1.0.tar.gz',
      '9:./vendor/local_pkg-1.0-py3-none-any.whl',
      '10:hashed==1.0',
      '11:zope.interface',
    ]);
  });

  it('names the file and line of what it cannot parse', async () => {
    await expect(readRequirements(file('bad.txt', 'flask\n\nflask >=< 2\n'), dir)).rejects.toThrow('bad.txt line 3: cannot parse "flask >=< 2" as a requirement');
    await expect(readRequirements(file('bad2.txt', '--no-such-option\n'), dir)).rejects.toThrow('bad2.txt line 1: "--no-such-option" is not an option pip accepts');
    await expect(readRequirements(file('bad3.txt', '-r missing.txt\n'), dir)).rejects.toThrow('missing.txt: cannot be read');
  });
});
