import { detectFail, detectPass, type DetectContext, type DetectResult } from '../../lib/index.js';
import { projectKind } from './project.js';

/** Passes for a Maven or Gradle project, or a directory holding a runnable JAR (Main-Class or Spring Boot). */
export async function detect(ctx: DetectContext): Promise<DetectResult> {
  const p = await projectKind(ctx.appDir);
  if ('reason' in p) return detectFail(p.reason);
  return detectPass({ provides: [{ name: 'jvm-application' }], requires: [{ name: 'jvm-application', metadata: { build: true, launch: true } }] });
}
