/** The main section of a JAR manifest (META-INF/MANIFEST.MF): attribute name → value, continuation lines joined. */
export function parseManifest(text: string): Map<string, string> {
  const attrs = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (line === '') break; // the main section ends at the first blank line
    if (line.startsWith(' ') && last) attrs.set(last, `${attrs.get(last) ?? ''}${line.slice(1)}`);
    else {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      last = line.slice(0, i).trim();
      attrs.set(last, line.slice(i + 1).trim());
    }
  }
  return attrs;
}

/** `Class-Path` entries (space-separated relative URLs). */
export function classPath(manifest: Map<string, string>): string[] {
  return (manifest.get('Class-Path') ?? '').split(/\s+/).filter((s) => s !== '');
}
