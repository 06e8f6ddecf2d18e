/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1). Quoted values may hold commas and spaces
 * (`scope="repository:a:pull,push repository:b:pull"`), so this is a real tokenizer, not `split(',')`.
 */
export interface Challenge {
  /** Lower-cased scheme: `basic`, `bearer`, … */
  scheme: string;
  /** Auth-params with lower-cased names. */
  params: Record<string, string>;
  /** A token68 value instead of params (rare; kept for completeness). */
  token68?: string;
}

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

class Scanner {
  i = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i] ?? '';
  }
  skipSpace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }
  skipSpaceAndCommas(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.i++;
  }
  token(): string {
    const start = this.i;
    while (!this.done && TCHAR.test(this.peek())) this.i++;
    return this.s.slice(start, this.i);
  }
  /** A quoted-string starting at the opening quote; backslash escapes the next character. */
  quoted(): string {
    this.i++;
    let out = '';
    while (!this.done) {
      const c = this.peek();
      this.i++;
      if (c === '\\') {
        out += this.peek();
        this.i++;
      } else if (c === '"') {
        return out;
      } else {
        out += c;
      }
    }
    return out;
  }
  token68(): string {
    const start = this.i;
    while (!this.done && /[A-Za-z0-9\-._~+/]/.test(this.peek())) this.i++;
    while (this.peek() === '=') this.i++;
    return this.s.slice(start, this.i);
  }
}

/** True when an auth-param (`name=`) starts at the scanner position, as opposed to a new challenge. */
function atParam(sc: Scanner): boolean {
  const save = sc.i;
  const name = sc.token();
  sc.skipSpace();
  let isParam = name !== '' && sc.peek() === '=';
  if (isParam) {
    // `abc==` is a token68 with padding, not a parameter named abc.
    sc.i++;
    isParam = sc.peek() !== '=' && sc.peek() !== ',' && !sc.done;
  }
  sc.i = save;
  return isParam;
}

/** Parses one or more header values into challenges, in order. Unparseable junk is skipped. */
export function parseWwwAuthenticate(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  const out: Challenge[] = [];
  for (const value of values) {
    const sc = new Scanner(value);
    let current: Challenge | undefined;
    while (!sc.done) {
      sc.skipSpaceAndCommas();
      if (sc.done) break;
      if (current && atParam(sc)) {
        const name = sc.token().toLowerCase();
        sc.skipSpace();
        sc.i++; // '='
        sc.skipSpace();
        current.params[name] = sc.peek() === '"' ? sc.quoted() : sc.token();
        continue;
      }
      const scheme = sc.token();
      if (scheme === '') {
        sc.i++; // not a token character: skip it
        continue;
      }
      current = { scheme: scheme.toLowerCase(), params: {} };
      out.push(current);
      sc.skipSpace();
      if (!sc.done && sc.peek() !== ',' && !atParam(sc)) {
        const t = sc.token68();
        if (t !== '') current.token68 = t;
      }
    }
  }
  return out;
}

/** The challenge we act on: Bearer if offered, else Basic, else undefined. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
