import { describe, expect, it } from 'vitest';
import { describeUrl, isConnectionError, parseErrorBody, redact, registerSecret, statusError } from './errors.js';
import { isRetryableStatus, parseRetryAfter, retryPolicy } from './retry.js';

describe('redact', () => {
  it('removes Authorization values, tokens, JWTs, _state and registered secrets', () => {
    registerSecret('hunter2-very-secret');
    const text = [
      'Authorization: Basic dXNlcjpodW50ZXIy',
      'Bearer abc.def-ghi',
      'token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      'PUT /v2/a/blobs/uploads/1?_state=SECRETSTATE&digest=sha256:aa',
      'password hunter2-very-secret here',
      'http://user:pw@host/x',
    ].join('\n');
    const out = redact(text);
    for (const s of ['dXNlcjpodW50ZXIy', 'abc.def-ghi', 'eyJhbGci', 'SECRETSTATE', 'hunter2-very-secret', 'user:pw']) {
      expect(out).not.toContain(s);
    }
    expect(out).toContain('digest=sha256:aa');
    expect(describeUrl('http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=xyz&digest=sha256:1')).toBe(
      '127.0.0.1:5000/v2/a/blobs/uploads/u?_state=[redacted]&digest=sha256:1',
    );
  });
});

describe('statusError', () => {
  it('maps statuses to codes and carries the distribution error body', () => {
    const body = JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: {} }] });
    const e = statusError(404, 'GET r/v2/a/manifests/x', body);
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toBe('GET r/v2/a/manifests/x: not found (HTTP 404): MANIFEST_UNKNOWN: manifest unknown');
    expect(e.errors).toEqual([{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }]);
    expect(statusError(401, 'x', '').code).toBe('AUTH');
    expect(statusError(403, 'x', '{"errors":[{"code":"DENIED"}]}').message).toContain('DENIED');
    const s = statusError(503, 'x', 'upstream down\nmore');
    expect([s.code, s.temporary, s.message]).toEqual(['REGISTRY', true, 'x: HTTP 503: upstream down']);
    expect(statusError(400, 'x', '').temporary).toBe(false);
  });

  it('tolerates odd bodies', () => {
    expect(parseErrorBody('404 page not found')).toEqual([]);
    expect(parseErrorBody('{"errors":[null,{"code":5}]}')).toEqual([{ code: '5' }]);
  });

  it('recognises connection errors', () => {
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(new Error('other side closed'))).toBe(true);
    expect(isConnectionError(statusError(500, 'x', ''))).toBe(false);
  });
});

describe('retry policy', () => {
  it('grows exponentially with bounded jitter and caps at maxDelayMs; Retry-After wins', () => {
    const p = retryPolicy({ minDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 });
    for (let i = 0; i < 20; i++) {
      const d = p.delay(2);
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(200);
    }
    expect(p.delay(10)).toBeLessThanOrEqual(1000);
    expect(p.delay(1, 3000)).toBe(1000);
    expect(p.delay(1, 40)).toBe(40);
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:02 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Sun, 31 Dec 2023 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('retries 5xx, 429 and 408 only', () => {
    expect([500, 502, 503, 429, 408].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 405, 416, 501].some(isRetryableStatus)).toBe(false);
  });
});
