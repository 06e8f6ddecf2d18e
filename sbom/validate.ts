import { InvalidContentError } from '../registry/oci/index.js';
import { formatOf, type SbomFormat } from './documents.js';
import { isSpdxExpression, isSpdxId, licenseIdsOf } from './licenses.js';
import { checkPurl } from './purl.js';

export interface SbomProblem {
  /** JSONPath of the offending value: `$.components[3].purl`. */
  path: string;
  message: string;
  /** `schema` (CycloneDX 1.6 / SPDX 2.3 schema) or `rule` (lading's rules). */
  kind: 'schema' | 'rule';
}

export interface ValidationResult {
  format: SbomFormat;
  problems: SbomProblem[];
}

export interface ValidateOptions {
  /** The SPDX 2.3 JSON schema (spdx-spec v2.3 `schemas/spdx-schema.json`); without it SPDX gets the required-field checks only. */
  spdxSchema?: object;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** ajv's `/components/0/purl` → `$.components[0].purl`. */
export function jsonPath(pointer: string): string {
  if (pointer === '') return '$';
  return `$${pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_$][\w$-]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`)).join('')}`;
}

/** Parses an SBOM file: CONTENT_INVALID naming `what` when it is not JSON or not CycloneDX/SPDX. */
export function parseSbomDocument(bytes: Buffer | string, what: string): { doc: Json; format: SbomFormat } {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw new InvalidContentError(`${what}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  const format = formatOf(doc);
  if (!format) throw new InvalidContentError(`${what}: at $: neither CycloneDX (bomFormat "CycloneDX") nor SPDX (spdxVersion "SPDX-2.x")`);
  return { doc: doc as Json, format };
}

type AjvErrors = { instancePath: string; message?: string; params?: Record<string, unknown> }[];

function fromAjv(errors: AjvErrors | null | undefined): SbomProblem[] {
  return (errors ?? []).map((e) => ({
    path: jsonPath(e.instancePath),
    message: `${e.message ?? 'invalid'}${e.params && 'missingProperty' in e.params ? ` (${String(e.params.missingProperty)})` : ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    kind: 'schema' as const,
  }));
}

async function cyclonedxSchemaProblems(text: string, specVersion: unknown): Promise<SbomProblem[]> {
  const CDX = await import('@cyclonedx/cyclonedx-library');
  if (specVersion !== '1.6') return [{ path: '$.specVersion', message: `lading validates CycloneDX 1.6; this is ${JSON.stringify(specVersion)}`, kind: 'schema' }];
  const validator = new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6);
  return fromAjv((await validator.validate(text)) as AjvErrors | null);
}

async function spdxSchemaProblems(doc: Json, schema: object | undefined): Promise<SbomProblem[]> {
  const problems: SbomProblem[] = [];
  if (schema) {
    // ajv is CommonJS: Node's namespace names its exports, a split esbuild bundle (dist/bundle) only has `default`.
    const ajvModule = await import('ajv');
    const Ajv = ajvModule.Ajv ?? (ajvModule.default as unknown as { Ajv: typeof ajvModule.Ajv }).Ajv;
    const addFormats = (await import('ajv-formats')).default as unknown as (ajv: InstanceType<typeof Ajv>) => void;
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    if (!validate(doc)) problems.push(...fromAjv(validate.errors as AjvErrors));
  }
  // What SPDX 2.3 requires besides the schema (spec tables 6 and 7.x).
  if (doc.spdxVersion !== 'SPDX-2.3') problems.push({ path: '$.spdxVersion', message: `must be "SPDX-2.3" (is ${JSON.stringify(doc.spdxVersion)})`, kind: 'schema' });
  if (typeof doc.documentNamespace !== 'string' || !/^[a-z][a-z0-9+.-]*:[^#]+$/i.test(doc.documentNamespace)) {
    problems.push({ path: '$.documentNamespace', message: 'must be an absolute URI without "#" (SPDX 2.3 §6.5)', kind: 'schema' });
  }
  if (!schema) {
    for (const f of ['dataLicense', 'SPDXID', 'name', 'creationInfo']) if (!(f in doc)) problems.push({ path: '$', message: `must have required property '${f}'`, kind: 'schema' });
  }
  (Array.isArray(doc.packages) ? doc.packages : []).forEach((p, i) => {
    if (isObject(p) && typeof p.SPDXID === 'string' && !/^SPDXRef-[A-Za-z0-9.-]+$/.test(p.SPDXID)) {
      problems.push({ path: `$.packages[${i}].SPDXID`, message: 'must be SPDXRef- followed by letters, digits, "." or "-"', kind: 'schema' });
    }
  });
  return problems;
}

function licenseProblems(expr: string, path: string): SbomProblem[] {
  if (expr === 'NOASSERTION' || expr === 'NONE') return [];
  if (!isSpdxExpression(expr)) return [{ path, message: `"${expr}" is not a valid SPDX license expression`, kind: 'rule' }];
  return licenseIdsOf(expr).filter((id) => !isSpdxId(id)).map((id) => ({ path, message: `"${id}" is not an SPDX license id`, kind: 'rule' }));
}

function purlProblem(purl: unknown, path: string): SbomProblem[] {
  if (typeof purl !== 'string') return [];
  const r = checkPurl(purl);
  return r.ok ? [] : [{ path, message: `purl "${purl}" does not parse: ${r.message}`, kind: 'rule' }];
}

/** lading's rules on top of the schemas: purls parse, SPDX license ids exist, every component/package has a version. */
function ruleProblems(doc: Json, format: SbomFormat): SbomProblem[] {
  const out: SbomProblem[] = [];
  if (format === 'cyclonedx') {
    const walk = (list: unknown, base: string): void => {
      (Array.isArray(list) ? list : []).forEach((c, i) => {
        if (!isObject(c)) return;
        const at = `${base}[${i}]`;
        if (typeof c.version !== 'string' || c.version === '') out.push({ path: `${at}.version`, message: `component "${String(c.name)}" has no version`, kind: 'rule' });
        out.push(...purlProblem(c.purl, `${at}.purl`));
        (Array.isArray(c.licenses) ? c.licenses : []).forEach((l, j) => {
          if (!isObject(l)) return;
          if (typeof l.expression === 'string') out.push(...licenseProblems(l.expression, `${at}.licenses[${j}].expression`));
          if (isObject(l.license) && typeof l.license.id === 'string' && !isSpdxId(l.license.id)) {
            out.push({ path: `${at}.licenses[${j}].license.id`, message: `"${l.license.id}" is not an SPDX license id`, kind: 'rule' });
          }
        });
        walk(c.components, `${at}.components`);
      });
    };
    walk(doc.components, '$.components');
    if (isObject(doc.metadata) && isObject(doc.metadata.component)) out.push(...purlProblem(doc.metadata.component.purl, '$.metadata.component.purl'));
    return out;
  }
  const extracted = new Set((Array.isArray(doc.hasExtractedLicensingInfos) ? doc.hasExtractedLicensingInfos : []).filter(isObject).map((e) => String(e.licenseId)));
  (Array.isArray(doc.packages) ? doc.packages : []).forEach((p, i) => {
    if (!isObject(p)) return;
    const at = `$.packages[${i}]`;
    if (typeof p.versionInfo !== 'string' || p.versionInfo === '') out.push({ path: `${at}.versionInfo`, message: `package "${String(p.name)}" has no version`, kind: 'rule' });
    for (const f of ['licenseDeclared', 'licenseConcluded'] as const) {
      const v = p[f];
      if (typeof v !== 'string') continue;
      out.push(...licenseProblems(v, `${at}.${f}`));
      for (const ref of v.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? []) {
        if (!extracted.has(ref)) out.push({ path: `${at}.${f}`, message: `${ref} has no hasExtractedLicensingInfos entry`, kind: 'rule' });
      }
    }
    (Array.isArray(p.externalRefs) ? p.externalRefs : []).forEach((r, j) => {
      if (isObject(r) && r.referenceType === 'purl') out.push(...purlProblem(r.referenceLocator, `${at}.externalRefs[${j}].referenceLocator`));
    });
  });
  return out;
}

/** Validates an SBOM file's bytes: its schema (CycloneDX 1.6 via the CycloneDX library, SPDX 2.3 via ajv) and lading's rules. */
export async function validateSbom(bytes: Buffer | string, what: string, options: ValidateOptions = {}): Promise<ValidationResult> {
  const { doc, format } = parseSbomDocument(bytes, what);
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  const schema = format === 'cyclonedx' ? await cyclonedxSchemaProblems(text, doc.specVersion) : await spdxSchemaProblems(doc, options.spdxSchema);
  return { format, problems: [...schema, ...ruleProblems(doc, format)] };
}
