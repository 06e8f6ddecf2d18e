import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseProcfile, type BuildContext, type BuildResult } from '../../lib/index.js';
import { contributeCatalogInterpreter, cpythonCatalog, cpythonSourceKind } from './catalog.js';
import { contributeInterpreter, contributePip } from './interpreter.js';
import { installPackages } from './pip-install.js';
import { readProject } from './project.js';
import { readRequirements } from './requirements.js';
import { assertStartable, startProcesses } from './start-command.js';
import { pythonVersionRequest } from './version.js';

const readText = (f: string) => readFile(f, 'utf8').catch((): undefined => undefined);

export async function build(ctx: BuildContext): Promise<BuildResult> {
  const project = await readProject(ctx.appDir);
  const fallback = typeof ctx.buildpack.metadata['default-version'] === 'string' ? ctx.buildpack.metadata['default-version'] : '3.x';
  const request = pythonVersionRequest(project, ctx.config('BP_CPYTHON_VERSION'), fallback);
  const catalog = cpythonCatalog(ctx.buildpack.metadata, { uri: ctx.config('BP_CPYTHON_DIST_URI'), sha256: ctx.config('BP_CPYTHON_DIST_SHA256'), version: ctx.config('BP_CPYTHON_VERSION') });
  const checkInputs = async () => {
    // Once the version is known, what can be checked without an interpreter fails before one is installed.
    if (project.requirements !== undefined) await readRequirements(join(ctx.appDir, 'requirements.txt'), ctx.appDir);
    if (project.procfile !== undefined) parseProcfile(project.procfile, join(ctx.appDir, 'Procfile'));
    await assertStartable(project, ctx.config('BP_PYTHON_START'), readText);
  };
  const { interpreter, installed } =
    cpythonSourceKind(ctx.config('BP_CPYTHON_SOURCE'), catalog) === 'catalog'
      ? await contributeCatalogInterpreter(ctx, request, catalog, checkInputs)
      : await contributeInterpreter(ctx, request, checkInputs);
  const packages = await installPackages(ctx, project, interpreter, () => contributePip(ctx, interpreter, installed));
  if (packages.layer && !packages.installed) ctx.logger.info('Requirements, project sources, interpreter and pip configuration unchanged: pip did not run');
  if (packages.toolchain.length) await ctx.layers.writeSbom('build', packages.toolchain);
  const processes = await startProcesses(
    project,
    { python: interpreter.python, scripts: packages.scripts, distributions: packages.distributions },
    ctx.config('BP_PYTHON_START'),
    readText,
  );
  return { processes, labels: [{ key: 'io.lading.run-image', value: 'base' }] };
}
