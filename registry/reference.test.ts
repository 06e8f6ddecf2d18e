import { describe, expect, it } from 'vitest';
import { familiarName, formatReference, parseReference, parseRegistryReference, withDefaultTag } from './reference.js';

const hex = 'a'.repeat(64);

describe('parseRegistryReference (docker rules)', () => {
  it.each([
    ['alpine', 'docker.io', 'library/alpine', undefined],
    ['alpine:3.19', 'docker.io', 'library/alpine', '3.19'],
    ['paketo/builder:base', 'docker.io', 'paketo/builder', 'base'],
    ['127.0.0.1:5000/app/web:v1', '127.0.0.1:5000', 'app/web', 'v1'],
    ['localhost/app', 'localhost', 'app', undefined],
    ['ghcr.io/org/app', 'ghcr.io', 'org/app', undefined],
    ['[::1]:5000/app', '[::1]:5000', 'app', undefined],
  ])('%s', (input, registry, repository, tag) => {
    const ref = parseRegistryReference(input);
    expect(ref.registry).toBe(registry);
    expect(ref.repository).toBe(repository);
    expect(ref.tag).toBe(tag);
  });

  it('keeps tag and digest together', () => {
    const ref = parseRegistryReference(`127.0.0.1:5000/a:v1@sha256:${hex}`);
    expect(ref.tag).toBe('v1');
    expect(ref.digest).toBe(`sha256:${hex}`);
  });

  it.each([
    ['', /empty/],
    ['UPPER', /not a valid repository name component/],
    ['app:bad tag', /not a valid tag/],
    ['app@sha256:xyz', /not a sha256 digest/],
    ['host:99x/app', /not a valid port/],
    ['a//b', /repository name is empty|not a valid repository/],
  ])('rejects %j', (input, msg) => {
    expect(() => parseRegistryReference(input)).toThrow(msg);
  });
});

describe('parseReference (transports)', () => {
  it('reads skopeo transports', () => {
    expect(parseReference('docker://127.0.0.1:5000/a:b')).toMatchObject({ transport: 'docker', registry: '127.0.0.1:5000', repository: 'a', tag: 'b' });
    expect(parseReference('oci:/tmp/lay:v1')).toEqual({ transport: 'oci', path: '/tmp/lay', tag: 'v1' });
    expect(parseReference('oci:/tmp/lay')).toEqual({ transport: 'oci', path: '/tmp/lay' });
    expect(parseReference(`oci:/tmp/lay:sha256:${hex}`)).toEqual({ transport: 'oci', path: '/tmp/lay', digest: `sha256:${hex}` });
    expect(parseReference('oci-archive:/tmp/a.tar:x')).toEqual({ transport: 'oci-archive', path: '/tmp/a.tar', tag: 'x' });
    expect(parseReference('docker-archive:/tmp/d.tar:app:v2')).toMatchObject({ transport: 'docker-archive', path: '/tmp/d.tar', name: { repository: 'library/app', tag: 'v2' } });
  });

  it('treats bare names, including host:port ones, as the local store', () => {
    expect(parseReference('myapp')).toMatchObject({ transport: 'store', name: { repository: 'library/myapp' } });
    expect(parseReference('myapp:latest')).toMatchObject({ transport: 'store', name: { tag: 'latest' } });
    expect(parseReference('localhost:5000/app')).toMatchObject({ transport: 'store', name: { registry: 'localhost:5000' } });
    expect(parseReference('127.0.0.1:5000/app:v1')).toMatchObject({ transport: 'store', name: { registry: '127.0.0.1:5000', tag: 'v1' } });
  });

  it('names unknown transports', () => {
    expect(() => parseReference('dir:/tmp/x')).toThrow(/unknown transport "dir:"/);
    expect(() => parseReference('docker-daemon:app:v1')).toThrow(/unknown transport "docker-daemon:"/);
    expect(() => parseReference('docker:app')).toThrow(/docker:\/\/REF/);
    expect(() => parseReference('oci:')).toThrow(/path is empty/);
  });

  it('formats familiar names', () => {
    expect(familiarName(withDefaultTag(parseRegistryReference('myapp')))).toBe('myapp:latest');
    expect(familiarName(parseRegistryReference('library/x:1'))).toBe('x:1');
    expect(familiarName(parseRegistryReference('127.0.0.1:5000/a/b:c'))).toBe('127.0.0.1:5000/a/b:c');
    expect(formatReference(parseReference('oci:/x:t'))).toBe('oci:/x:t');
  });
});
