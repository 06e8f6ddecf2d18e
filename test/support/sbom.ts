import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { IN_CI } from './tools.js';

/**
 * Independent checks for the SBOMs the integration tests produce (issue 7's acceptance): CycloneDX with the
 * CycloneDX library's strict JSON validator, SPDX with ajv against the SPDX 2.3 schema kept beside the repo
 * in the workspace reference data (never copied into the repo), and dpkg records read with umoci.
 */
export const SPDX_SCHEMA = resolve(import.meta.dirname, '../../../shared/reference/spdx-2.3/spdx-schema.json');

/** The SPDX 2.3 schema, or undefined outside CI when it is missing (under CI=true: a clear error). */
export function spdxSchema(): object | undefined {
  if (existsSync(SPDX_SCHEMA)) return JSON.parse(readFileSync(SPDX_SCHEMA, 'utf8')) as object;
  const msg = `the SPDX 2.3 schema is missing: expected ${SPDX_SCHEMA} (workspace reference data beside the repo)`;
  if (IN_CI) throw new Error(msg);
  console.warn(`${msg}; SPDX documents are not schema-validated`);
  return undefined;
}

type AjvError = { instancePath: string; message?: string };

/** Errors of the CycloneDX library's strict 1.6 JSON validator ([] when valid). */
export async function cyclonedxErrors(text: string): Promise<string[]> {
  const CDX = await import('@cyclonedx/cyclonedx-library');
  const errors = (await new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6).validate(text)) as AjvError[] | null;
  return (errors ?? []).map((e) => `${e.instancePath}: ${e.message}`);
}

/** Errors of ajv against the SPDX 2.3 schema ([] when valid or when the schema is missing outside CI). */
export async function spdxErrors(text: string): Promise<string[]> {
  const schema = spdxSchema();
  if (!schema) return [];
  const { Ajv } = await import('ajv');
  const addFormats = (await import('ajv-formats')).default as unknown as (ajv: InstanceType<typeof Ajv>) => void;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  return validate(JSON.parse(text)) ? [] : (validate.errors as AjvError[]).map((e) => `${e.instancePath}: ${e.message}`);
}

/** Package → Version of every record in `/var/lib/dpkg/status.d` of an image in an OCI layout (umoci unpack). */
export function dpkgRecords(layout: string, tag: string): Map<string, string> {
  const work = mkdtempSync(join(tmpdir(), 'lading-dpkg-'));
  try {
    const bundle = join(work, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, bundle], { stdio: 'pipe' });
    const dir = join(bundle, 'rootfs/var/lib/dpkg/status.d');
    const out = new Map<string, string>();
    for (const f of readdirSync(dir)) {
      if (f.endsWith('.md5sums')) continue;
      for (const para of readFileSync(join(dir, f), 'utf8').split(/\n\s*\n/)) {
        const pkg = /^Package:\s*(\S+)/m.exec(para)?.[1];
        const version = /^Version:\s*(\S+)/m.exec(para)?.[1];
        if (pkg && version) out.set(pkg, version);
      }
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface CdxComponent { name: string; version?: string; purl?: string; type?: string; components?: CdxComponent[] }

/** Every component of a CycloneDX document, nested ones included. */
export function cdxComponents(doc: { components?: CdxComponent[] }): CdxComponent[] {
  const out: CdxComponent[] = [];
  const walk = (list?: CdxComponent[]) => {
    for (const c of list ?? []) {
      out.push(c);
      walk(c.components);
    }
  };
  walk(doc.components);
  return out;
}
