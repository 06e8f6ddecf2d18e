import { setTimeout as sleep } from 'node:timers/promises';

/** Backoff for temporary failures (5xx, 429, connection errors). Tests pass tiny delays. */
export interface RetryOptions {
  /** Retries after the first attempt (default 5). */
  retries?: number;
  /** First delay in ms (default 250); doubles each time. */
  minDelayMs?: number;
  /** Cap for one delay, including a server's Retry-After (default 10 000). */
  maxDelayMs?: number;
  /** Random share of each delay, 0–1 (default 0.25). */
  jitter?: number;
  /** Injected clock for tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

export interface RetryPolicy {
  retries: number;
  /** The delay before retry number `attempt` (1-based); `retryAfterMs` from the server wins when given. */
  delay(attempt: number, retryAfterMs?: number): number;
  sleep(ms: number): Promise<void>;
}

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const retries = options.retries ?? 5;
  const min = options.minDelayMs ?? 250;
  const max = options.maxDelayMs ?? 10_000;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.25));
  return {
    retries,
    delay(attempt, retryAfterMs) {
      if (retryAfterMs !== undefined) return Math.min(max, Math.max(0, retryAfterMs));
      const base = Math.min(max, min * 2 ** (attempt - 1));
      return Math.round(base * (1 - jitter + Math.random() * jitter));
    },
    sleep: options.sleep ?? ((ms) => sleep(ms).then(() => undefined)),
  };
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP-date; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Statuses worth another try. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}
