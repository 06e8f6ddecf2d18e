import { BuildpackError } from './errors.js';

/**
 * Splits a setting such as BP_GO_BUILD_FLAGS or BP_MAVEN_BUILD_ARGUMENTS into words the way a POSIX shell
 * does: single and double quotes, backslash escapes, no expansion. `what` names the setting in the error for
 * an unterminated quote.
 */
export function shellWords(text: string, what = 'the setting'): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string)) cur += text[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
    }
  }
  if (quote) throw new BuildpackError('CONFIG', `${what}: unterminated ${quote} quote in "${text}"`);
  if (has || cur) out.push(cur);
  return out;
}
