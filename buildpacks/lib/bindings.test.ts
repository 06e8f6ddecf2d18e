import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindingEntry, bindingRoot, bindingsOfType, readBindings } from './bindings.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('service bindings', () => {
  it('reads type, provider and entries of each binding, sorted, and finds them by type', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lading-bindings-'));
    dirs.push(root);
    await mkdir(join(root, 'z-maven'));
    await writeFile(join(root, 'z-maven', 'type'), 'Maven\n');
    await writeFile(join(root, 'z-maven', 'settings.xml'), '<settings/>');
    await mkdir(join(root, 'a-ca'));
    await writeFile(join(root, 'a-ca', 'type'), 'ca-certificates');
    await writeFile(join(root, 'a-ca', 'provider'), 'corp\n');
    await writeFile(join(root, 'a-ca', 'corp.pem'), 'pem');
    await writeFile(join(root, 'a-ca', '..data'), 'k8s');
    const bindings = await readBindings(root);
    expect(bindings).toEqual([
      { name: 'a-ca', path: join(root, 'a-ca'), type: 'ca-certificates', provider: 'corp', entries: ['corp.pem'] },
      { name: 'z-maven', path: join(root, 'z-maven'), type: 'Maven', entries: ['settings.xml'] },
    ]);
    const [maven] = bindingsOfType(bindings, 'maven');
    expect(bindingEntry(maven!, 'settings.xml')).toBe(join(root, 'z-maven', 'settings.xml'));
    expect(bindingEntry(maven!, 'security-settings.xml')).toBeUndefined();
    expect(bindingsOfType(bindings, 'ca-certificates', 'other')).toEqual([]);
    expect(await readBindings(join(root, 'missing'))).toEqual([]);
  });

  it('names a binding without a type file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lading-bindings-'));
    dirs.push(root);
    await mkdir(join(root, 'broken'));
    await writeFile(join(root, 'broken', 'settings.xml'), '<settings/>');
    await expect(readBindings(root)).rejects.toThrow(`${join(root, 'broken', 'type')}: the binding "broken" has no type file`);
  });

  it('looks in SERVICE_BINDING_ROOT, then CNB_BINDINGS, then <platform>/bindings', () => {
    expect(bindingRoot({ SERVICE_BINDING_ROOT: '/sb', CNB_BINDINGS: '/cb' }, '/platform')).toBe('/sb');
    expect(bindingRoot({ CNB_BINDINGS: '/cb' }, '/platform')).toBe('/cb');
    expect(bindingRoot({}, '/platform')).toBe('/platform/bindings');
  });
});
