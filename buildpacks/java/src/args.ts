import { BuildpackError } from '../../lib/index.js';

/** Splits a BP_*_ARGUMENTS value into arguments like a POSIX shell would (quotes and backslashes; no expansion). */
export function splitArguments(text: string, what: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (quote) throw new BuildpackError('CONFIG', `${what}: unterminated ${quote} quote in ${JSON.stringify(text)}`);
  if (has || cur) out.push(cur);
  return out;
}
