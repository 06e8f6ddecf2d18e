import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InvalidContentError, LadingError, NotFoundError } from '../../../registry/oci/index.js';
import {
  cnbSbomFiles, diffComponents, sbomDocuments, summarize, validateSbom, type PackageChange, type SbomProblem,
} from '../../../sbom/index.js';
import { globalOpenOptions, platformOf, type CommandContext } from '../context.js';
import type { Output } from '../output.js';
import { componentsOf, imageSbom, isFile, openImage, sbomTool } from './sbom-image.js';
import type { SbomArgs, SbomDiffArgs, SbomDownloadArgs, SbomValidateArgs } from './sbom.js';

async function writeOut(file: string, bytes: Buffer | string): Promise<void> {
  try {
    await mkdir(dirname(resolve(file)), { recursive: true });
    await writeFile(file, bytes);
  } catch (err) {
    throw new LadingError('IO', `${file}: cannot write: ${(err as Error).message}`, { cause: err });
  }
}

/** `lading sbom IMAGE`: the image SBOM as CycloneDX, SPDX or a summary table. */
export async function runSbom(ctx: CommandContext, args: SbomArgs): Promise<void> {
  const out = ctx.output(args);
  const format = args.format ?? 'cyclonedx';
  const opened = await openImage(args.image, globalOpenOptions(args, ctx), platformOf(args));
  try {
    const found = await imageSbom(opened);
    if (format === 'table') {
      const summary = summarize(found.components);
      if (out.json) return out.result({ image: args.image, digest: opened.image.descriptor.digest, from: found.from, ...summary });
      const text = tableText(args.image, found.from, summary);
      if (args.output) await writeOut(args.output, text);
      else out.print(text.trimEnd());
      return;
    }
    let bytes: Buffer;
    if (found.from === 'referrers') {
      const doc = found.documents.find((d) => d.format === format);
      if (!doc) throw new NotFoundError(`${args.image}: its SBOM referrers have no ${format} document (it has: ${found.documents.map((d) => d.format).join(', ')})`);
      bytes = doc.bytes;
    } else {
      bytes = sbomDocuments(found.sbom, { tool: sbomTool() }).find((d) => d.format === format)!.bytes;
    }
    if (args.output) {
      await writeOut(args.output, bytes);
      out.log(`Wrote ${args.output} (${format}, from ${found.from === 'referrers' ? 'the SBOM referrers' : 'the CNB SBOM layer'})`);
    } else {
      ctx.terminal.stdout.write(bytes);
    }
  } finally {
    await opened.source.close();
  }
}

function tableText(image: string, from: string, s: ReturnType<typeof summarize>): string {
  const lines = [`${image}: ${s.total} packages (from ${from === 'referrers' ? 'the SBOM referrers' : 'the CNB SBOM layer'})`, '', 'ECOSYSTEM       PACKAGES'];
  for (const e of s.ecosystems) lines.push(`${e.ecosystem.padEnd(15)} ${e.packages}`);
  lines.push('', 'LICENSE                                   PACKAGES');
  for (const l of s.licenses) lines.push(`${(l.license + (l.spdx ? '' : ' (not SPDX)')).padEnd(41)} ${l.packages}`);
  lines.push('', `UNKNOWN OR NON-SPDX LICENSE: ${s.unknownLicense.length}`);
  for (const u of s.unknownLicense) lines.push(`  ${u.ecosystem}/${u.name}${u.version ? `@${u.version}` : ''}${u.found ? `: ${u.found}` : ': none found'}`);
  if (s.incomplete.length) {
    lines.push('', `INCOMPLETE: ${s.incomplete.length}`);
    for (const i of s.incomplete) lines.push(`  ${i.name}: no ${i.missing.join(', no ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `lading sbom download IMAGE [-o DIR]`: the CNB SBOM layer's files, as `pack sbom download` writes them. */
export async function runSbomDownload(ctx: CommandContext, args: SbomDownloadArgs): Promise<void> {
  const out = ctx.output(args);
  const dir = resolve(args.output ?? '.');
  const opened = await openImage(args.image, globalOpenOptions(args, ctx), platformOf(args));
  try {
    const files = await cnbSbomFiles(opened.image, opened.source.location);
    if (files.length === 0) throw new NotFoundError(`could not find SBoM information on '${args.image}': no CNB SBOM layer (sbom.sha in io.buildpacks.lifecycle.metadata)`);
    const written: string[] = [];
    for (const f of files) {
      const path = join(dir, 'layers', 'sbom', f.relative);
      await writeOut(path, f.bytes);
      written.push(path);
    }
    if (out.json) out.result({ image: args.image, digest: opened.image.descriptor.digest, files: written });
    else for (const w of written) out.print(w);
  } finally {
    await opened.source.close();
  }
}

function changeText(c: PackageChange): string {
  const v = (x?: { version?: string; licenses: string[] }) => `${x?.version ?? '?'}${x && x.licenses.length ? ` (${x.licenses.join(', ')})` : ''}`;
  if (c.kind === 'added') return `+ ${c.ecosystem} ${c.name} ${v(c.after)}`;
  if (c.kind === 'removed') return `- ${c.ecosystem} ${c.name} ${v(c.before)}`;
  return `~ ${c.ecosystem} ${c.name} ${v(c.before)} -> ${v(c.after)}`;
}

/** `lading sbom diff A B`: images or SBOM files. */
export async function runSbomDiff(ctx: CommandContext, args: SbomDiffArgs): Promise<void> {
  const out = ctx.output(args);
  const options = globalOpenOptions(args, ctx);
  const a = await componentsOf(args.a, options, platformOf(args));
  const b = await componentsOf(args.b, options, platformOf(args));
  const changes = diffComponents(a, b);
  const pick = (k: PackageChange['kind'][]) => changes.filter((c) => k.includes(c.kind));
  if (out.json) {
    out.result({ a: args.a, b: args.b, added: pick(['added']), removed: pick(['removed']), changed: pick(['version', 'license', 'version+license']) });
    return;
  }
  if (changes.length === 0) out.print(`No package changes between ${args.a} and ${args.b} (${a.length} packages)`);
  for (const c of changes) out.print(changeText(c));
}

async function spdxSchema(args: SbomValidateArgs, env: NodeJS.ProcessEnv): Promise<object | undefined> {
  const file = args['spdx-schema'] ?? env['LADING_SPDX_SCHEMA'];
  if (!file) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as object;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'CONTENT_INVALID';
    throw new LadingError(code, `--spdx-schema ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function report(out: Output, what: string, format: string, problems: SbomProblem[]): void {
  if (problems.length === 0) out.log(`${what}: valid ${format === 'cyclonedx' ? 'CycloneDX 1.6' : 'SPDX 2.3'}`);
  for (const p of problems) out.log(`${what}: ${p.path}: ${p.message}${p.kind === 'rule' ? ' (lading rule)' : ''}`);
}

/** `lading sbom validate FILE|IMAGE`: CONTENT_INVALID (exit 5) naming the JSON path of each problem. */
export async function runSbomValidate(ctx: CommandContext, args: SbomValidateArgs): Promise<void> {
  const out = ctx.output(args);
  const schema = await spdxSchema(args, ctx.terminal.env);
  const targets: { what: string; bytes: Buffer }[] = [];
  if (isFile(args.target)) {
    targets.push({ what: args.target, bytes: await readFile(args.target) });
  } else {
    const opened = await openImage(args.target, globalOpenOptions(args, ctx), platformOf(args));
    try {
      const found = await imageSbom(opened);
      if (found.from === 'referrers') for (const d of found.documents) targets.push({ what: `${args.target} referrer ${d.descriptor.digest} (${d.format})`, bytes: d.bytes });
      for (const f of await cnbSbomFiles(opened.image, opened.source.location)) if (f.ext !== 'syft.json') targets.push({ what: `${args.target} /${f.path}`, bytes: f.bytes });
    } finally {
      await opened.source.close();
    }
  }
  const results = [];
  for (const t of targets) {
    const r = await validateSbom(t.bytes, t.what, schema ? { spdxSchema: schema } : {});
    results.push({ file: t.what, format: r.format, problems: r.problems });
    if (!out.json) report(out, t.what, r.format, r.problems);
  }
  const bad = results.filter((r) => r.problems.length > 0);
  if (bad.length > 0) {
    const first = bad[0]!;
    throw new InvalidContentError(`${first.file}: ${first.problems[0]!.path}: ${first.problems[0]!.message}${bad.reduce((n, r) => n + r.problems.length, 0) > 1 ? ` (and ${bad.reduce((n, r) => n + r.problems.length, 0) - 1} more problems)` : ''}`);
  }
  if (out.json) out.result({ valid: true, documents: results });
  else out.print(`${results.length} SBOM document${results.length === 1 ? '' : 's'} valid`);
}
