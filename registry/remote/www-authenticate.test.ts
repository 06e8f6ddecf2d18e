import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate, pickChallenge } from './www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it('parses the 2.8 Bearer challenge with a two-scope quoted value holding commas and spaces', () => {
    const h = 'Bearer realm="http://127.0.0.1:5001/token",service="reg",scope="repository:a/b:pull,push repository:c/d:pull",error="insufficient_scope"';
    expect(parseWwwAuthenticate(h)).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'http://127.0.0.1:5001/token',
          service: 'reg',
          scope: 'repository:a/b:pull,push repository:c/d:pull',
          error: 'insufficient_scope',
        },
      },
    ]);
  });

  it('handles Basic, escapes, spaces around "=", token values and case-insensitive names', () => {
    const [c] = parseWwwAuthenticate('Basic Realm = "my \\"quoted\\" realm, with comma" , charset=UTF-8');
    expect(c).toEqual({ scheme: 'basic', params: { realm: 'my "quoted" realm, with comma', charset: 'UTF-8' } });
  });

  it('splits several challenges in one value and across header values; prefers Bearer', () => {
    const cs = parseWwwAuthenticate(['Basic realm="a", Bearer realm="https://auth/t",service="s"', 'Negotiate abc==']);
    expect(cs.map((c) => c.scheme)).toEqual(['basic', 'bearer', 'negotiate']);
    expect(cs[2]?.token68).toBe('abc==');
    expect(pickChallenge(cs)?.params.realm).toBe('https://auth/t');
    expect(pickChallenge(parseWwwAuthenticate('Basic realm="x"'))?.scheme).toBe('basic');
    expect(pickChallenge(parseWwwAuthenticate('Negotiate'))).toBeUndefined();
  });

  it('survives unterminated quotes and junk', () => {
    expect(parseWwwAuthenticate('Bearer realm="unterminated')).toEqual([{ scheme: 'bearer', params: { realm: 'unterminated' } }]);
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(parseWwwAuthenticate('  ,, ')).toEqual([]);
  });
});
