import { join } from 'node:path';
import { normalizeApi, apiToSemver, parseToml, readTextFile, tomlFields, type TomlFields, type TomlTable } from '../buildpack/index.js';

/** project.toml is the user's input; its problems are CONTENT_INVALID with file and key (or line). */
const CODE = 'CONTENT_INVALID' as const;

/** Project descriptor schema versions lading reads (extensions/project-descriptor.md, and pack's 0.1). */
export const SUPPORTED_PROJECT_SCHEMAS = ['0.1', '0.2'] as const;

/** A buildpack reference in `[[io.buildpacks.group]]` (0.2) or `[[build.buildpacks]]` (0.1). */
export interface ProjectBuildpackRef {
  id?: string;
  version?: string;
  uri?: string;
  /** An inline buildpack: `inline` is the build script, run by `shell`. */
  script?: { api: string; shell: string; inline: string };
}

export interface ProjectLicense {
  type?: string;
  uri?: string;
}

export interface ProjectDescriptor {
  schemaVersion: (typeof SUPPORTED_PROJECT_SCHEMAS)[number];
  id?: string;
  name?: string;
  version?: string;
  authors: string[];
  documentationUrl?: string;
  sourceUrl?: string;
  licenses: ProjectLicense[];
  metadata: TomlTable;
  builder?: string;
  /** gitignore-style patterns; at most one of include/exclude is set. */
  include?: string[];
  exclude?: string[];
  group: ProjectBuildpackRef[];
  pre: ProjectBuildpackRef[];
  post: ProjectBuildpackRef[];
  buildEnv: { name: string; value: string }[];
}

/**
 * Parses project.toml. The schema comes from `[_] schema-version`; a file without it is read as 0.1, the
 * way pack reads it (`[project]`, `[build] include/exclude/builder`, `[[build.buildpacks]]`, `[[build.env]]`).
 */
export function parseProjectDescriptor(text: string, file: string): ProjectDescriptor {
  const root = tomlFields(parseToml(text, file, CODE), file, CODE);
  const schema = root.table_('_').optionalString('schema-version');
  if (schema === undefined) return parseV01(root);
  if (!apiToSemver(schema) || !(SUPPORTED_PROJECT_SCHEMAS as readonly string[]).includes(normalizeApi(schema))) {
    root.fail(`_.schema-version "${schema}" is not supported (supported: ${SUPPORTED_PROJECT_SCHEMAS.join(', ')})`);
  }
  return normalizeApi(schema) === '0.1' ? parseV01(root) : parseV02(root);
}

/** Reads `<appDir>/project.toml` (or `descriptorPath`); undefined when the app has none. */
export async function readProjectDescriptor(appDir: string, descriptorPath?: string): Promise<ProjectDescriptor | undefined> {
  const file = descriptorPath ?? join(appDir, 'project.toml');
  const text = descriptorPath ? await readTextFile(file) : await readTextFile(file, { optional: true });
  return text === undefined ? undefined : parseProjectDescriptor(text, file);
}

function parseV02(root: TomlFields): ProjectDescriptor {
  const project = root.table_('_');
  const io = root.table_('io').table_('buildpacks');
  return {
    schemaVersion: '0.2',
    ...projectInfo(project),
    metadata: project.freeTable('metadata'),
    ...buildSettings(io),
    group: io.tables('group').map(buildpackRef),
    pre: io.table_('pre').tables('group').map(buildpackRef),
    post: io.table_('post').tables('group').map(buildpackRef),
    buildEnv: io.table_('build').tables('env').map(envVar),
  };
}

function parseV01(root: TomlFields): ProjectDescriptor {
  const project = root.table_('project');
  const build = root.table_('build');
  return {
    schemaVersion: '0.1',
    ...projectInfo(project),
    metadata: root.freeTable('metadata'),
    ...buildSettings(build),
    group: build.tables('buildpacks').map(buildpackRef),
    pre: [],
    post: [],
    buildEnv: build.tables('env').map(envVar),
  };
}

function projectInfo(t: TomlFields) {
  const out: Pick<ProjectDescriptor, 'id' | 'name' | 'version' | 'authors' | 'documentationUrl' | 'sourceUrl' | 'licenses'> = {
    authors: t.stringArray('authors'),
    licenses: t.tables('licenses').map((l) => {
      const lic: ProjectLicense = {};
      const type = l.optionalString('type');
      const uri = l.optionalString('uri');
      if (type) lic.type = type;
      if (uri) lic.uri = uri;
      if (!type && !uri) l.fail(`${l.key('type')} or ${l.key('uri')} is required`);
      return lic;
    }),
  };
  for (const [key, field] of [['id', 'id'], ['name', 'name'], ['version', 'version'], ['documentation-url', 'documentationUrl'], ['source-url', 'sourceUrl']] as const) {
    const v = t.optionalString(key);
    if (v) out[field] = v;
  }
  return out;
}

function buildSettings(t: TomlFields): Pick<ProjectDescriptor, 'builder' | 'include' | 'exclude'> {
  const include = t.optionalStringArray('include');
  const exclude = t.optionalStringArray('exclude');
  if (include && exclude) t.fail(`${t.key('include')} and ${t.key('exclude')} cannot both be set`);
  const out: Pick<ProjectDescriptor, 'builder' | 'include' | 'exclude'> = {};
  const builder = t.optionalString('builder');
  if (builder) out.builder = builder;
  if (include) out.include = include;
  if (exclude) out.exclude = exclude;
  return out;
}

function buildpackRef(t: TomlFields): ProjectBuildpackRef {
  const ref: ProjectBuildpackRef = {};
  for (const key of ['id', 'version', 'uri'] as const) {
    const v = t.optionalString(key);
    if (v) ref[key] = v;
  }
  if (t.has('script')) {
    const s = t.table_('script');
    ref.script = { api: s.string('api'), shell: s.optionalString('shell') || '/bin/sh', inline: s.string('inline') };
    if (!ref.id) t.fail(`${t.key('id')} is required for an inline buildpack (script)`);
  }
  const given = (['version', 'uri', 'script'] as const).filter((k) => ref[k] !== undefined);
  if (given.length > 1) t.fail(`${t.where} sets ${given.join(' and ')}; use only one of version, uri and script`);
  if (!ref.id && !ref.uri) t.fail(`${t.where} needs an id or a uri`);
  return ref;
}

function envVar(t: TomlFields): { name: string; value: string } {
  const name = t.string('name');
  if (name.includes('=')) t.fail(`${t.key('name')} "${name}" must not contain '='`);
  return { name, value: t.optionalString('value') ?? '' };
}
