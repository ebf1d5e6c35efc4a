import type { HttpMethod } from './http.js';
import { UpstreamError } from './upstream-error.js';

/**
 * When a failed upstream call is tried again, and after how long. Retries happen only where
 * a repeat cannot do harm: GET on connection failures, timeouts, 429, 502, 503, 504; PUT and
 * DELETE only when the request never left (connect failure); POST never. Exponential
 * backoff with jitter, `Retry-After` honoured, never past the request's deadline.
 */

const RETRY_STATUSES = new Set([429, 502, 503, 504]);
/** Base of the exponential backoff: the first retry waits 50 to 100 ms, the second 100 to 200. */
const BACKOFF_BASE_MS = 100;
/** A longer `Retry-After` than this is not waited for: the error goes to the client with the hint. */
const MAX_RETRY_AFTER_MS = 10_000;
/** A retry needs at least this much of the request's time left to be worth starting. */
const MIN_ATTEMPT_MS = 50;

export interface RetryOptions {
  /** Retries after the first attempt. */
  retries: number;
}

/** `Retry-After` as delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whether repeating this call is safe and may help (see the module comment). */
export function isRetryable(method: HttpMethod, err: unknown): boolean {
  if (!(err instanceof UpstreamError) || err.details.local !== undefined) return false;
  if (method === 'GET') {
    if (err.failure === 'unavailable' || err.failure === 'timeout') return true;
    return err.failure === 'http' && RETRY_STATUSES.has(err.status ?? 0);
  }
  if (method === 'PUT' || method === 'DELETE') return err.details.notSent === true;
  return false;
}

/**
 * The wait before retrying after `err` on attempt `attempt` (0 for the first try), or
 * undefined when the call must not be retried. `deadline` is the request's `Date.now()`
 * deadline, if any; `now` and `random` are there for tests.
 */
export function retryDelay(
  options: RetryOptions,
  method: HttpMethod,
  err: unknown,
  attempt: number,
  deadline: number | undefined,
  now: number = Date.now(),
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= options.retries || !isRetryable(method, err)) return undefined;
  const retryAfter = (err as UpstreamError).details.retryAfterMs;
  if (retryAfter !== undefined && retryAfter > MAX_RETRY_AFTER_MS) return undefined;
  const ceiling = BACKOFF_BASE_MS * 2 ** attempt;
  // "Equal jitter": at least half the step, so retries never bunch up at zero.
  const backoff = ceiling / 2 + random() * (ceiling / 2);
  const delay = Math.round(Math.max(backoff, retryAfter ?? 0));
  // Leave the next attempt some time to run, or do not bother.
  if (deadline !== undefined && now + delay + MIN_ATTEMPT_MS >= deadline) return undefined;
  return delay;
}
