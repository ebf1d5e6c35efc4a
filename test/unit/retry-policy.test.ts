import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';
import { isRetryable, parseRetryAfter, retryDelay } from '../../src/upstreams/retry-policy.js';

const http = (status: number) => new UpstreamError('http', 'npm', { status });

describe('which calls are retried', () => {
  it.each([
    ['GET', new UpstreamError('unavailable', 'npm'), true],
    ['GET', new UpstreamError('timeout', 'npm'), true],
    ['GET', http(429), true],
    ['GET', http(502), true],
    ['GET', http(503), true],
    ['GET', http(504), true],
    ['GET', http(500), false],
    ['GET', http(404), false],
    ['GET', new UpstreamError('bad_response', 'npm'), false],
    ['GET', new UpstreamError('unavailable', 'npm', { local: 'circuit_open', notSent: true }), false],
    ['PUT', new UpstreamError('unavailable', 'npm', { notSent: true }), true],
    ['PUT', new UpstreamError('unavailable', 'npm'), false],
    ['PUT', http(503), false],
    ['DELETE', new UpstreamError('timeout', 'npm', { notSent: true }), true],
    ['DELETE', new UpstreamError('timeout', 'npm'), false],
    ['POST', new UpstreamError('unavailable', 'npm', { notSent: true }), false],
    ['POST', http(503), false],
  ] as const)('%s after %s: %s', (method, err, expected) => {
    expect(isRetryable(method, err)).toBe(expected);
  });
});

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-11-24T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('the wait before a retry', () => {
  const options = { retries: 2 };
  const timeout = new UpstreamError('timeout', 'npm');
  const lowest = () => 0;
  const highest = () => 1;

  it('grows exponentially with equal jitter: half the step at least, the whole step at most', () => {
    expect(retryDelay(options, 'GET', timeout, 0, undefined, 0, lowest)).toBe(50);
    expect(retryDelay(options, 'GET', timeout, 0, undefined, 0, highest)).toBe(100);
    expect(retryDelay(options, 'GET', timeout, 1, undefined, 0, lowest)).toBe(100);
    expect(retryDelay(options, 'GET', timeout, 1, undefined, 0, highest)).toBe(200);
  });

  it('stops after the configured number of retries, and never retries what is not retryable', () => {
    expect(retryDelay(options, 'GET', timeout, 2, undefined, 0, lowest)).toBeUndefined();
    expect(retryDelay({ retries: 0 }, 'GET', timeout, 0, undefined, 0, lowest)).toBeUndefined();
    expect(retryDelay(options, 'POST', timeout, 0, undefined, 0, lowest)).toBeUndefined();
  });

  it('waits for Retry-After up to 10 s, and leaves a longer one to the client', () => {
    const limited = (retryAfterMs: number) => new UpstreamError('http', 'npm', { status: 429, retryAfterMs });
    expect(retryDelay(options, 'GET', limited(3_000), 0, undefined, 0, lowest)).toBe(3_000);
    expect(retryDelay(options, 'GET', limited(10_000), 0, undefined, 0, lowest)).toBe(10_000);
    expect(retryDelay(options, 'GET', limited(10_001), 0, undefined, 0, lowest)).toBeUndefined();
  });

  it('does not retry when the request deadline leaves the next attempt under 50 ms', () => {
    const now = 1_000;
    // 50 ms of backoff: the deadline must be more than 100 ms away.
    expect(retryDelay(options, 'GET', timeout, 0, now + 101, now, lowest)).toBe(50);
    expect(retryDelay(options, 'GET', timeout, 0, now + 100, now, lowest)).toBeUndefined();
  });
});
