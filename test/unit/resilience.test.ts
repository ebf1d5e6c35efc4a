import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';
import { MemoryIdempotencyStore } from '../../src/stores/idempotency.js';
import { MemoryRateLimitStore } from '../../src/stores/rate-limit.js';
import { isRetryable, parseRetryAfter } from '../../src/upstreams/http.js';

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

describe('MemoryIdempotencyStore', () => {
  it('claims, replays, refuses other content, and forgets after the TTL', async () => {
    let now = 0;
    const store = new MemoryIdempotencyStore({ ttlMs: 1000, runningTtlMs: 100, now: () => now });
    expect(await store.claim('a', 'f1')).toEqual({ state: 'new' });
    const running = await store.claim('a', 'f1');
    expect(running.state).toBe('running');
    expect(await store.claim('a', 'f2')).toEqual({ state: 'mismatch' });
    await store.complete('a', { data: { ok: true } });
    if (running.state === 'running') await running.settled;
    expect(await store.claim('a', 'f1')).toEqual({ state: 'done', result: { data: { ok: true } } });
    now = 1001;
    expect(await store.claim('a', 'f2')).toEqual({ state: 'new' });
  });

  it('treats a claim running past its limit as abandoned, and release lets a retry run', async () => {
    let now = 0;
    const store = new MemoryIdempotencyStore({ ttlMs: 1000, runningTtlMs: 100, now: () => now });
    await store.claim('a', 'f');
    now = 150;
    expect(await store.claim('a', 'f')).toEqual({ state: 'new' });
    await store.release('a');
    expect(await store.claim('a', 'f')).toEqual({ state: 'new' });
  });

  it('stays bounded under a flood of keys', async () => {
    const store = new MemoryIdempotencyStore({ ttlMs: 60_000, runningTtlMs: 60_000, maxEntries: 100 });
    for (let i = 0; i < 1000; i++) {
      await store.claim(`k${i}`, 'f');
      await store.complete(`k${i}`, {});
    }
    expect(store.size).toBeLessThanOrEqual(100);
  });
});

describe('MemoryRateLimitStore', () => {
  it('admits rps plus burst, then refuses with a retry hint, per caller', async () => {
    const store = new MemoryRateLimitStore({ rps: 2, burst: 3 });
    const decisions = [];
    for (let i = 0; i < 7; i++) decisions.push(await store.take('alice'));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    const refused = decisions.find((d) => !d.allowed);
    expect(refused).toMatchObject({ allowed: false });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect((await store.take('bob')).allowed).toBe(true);
  });
});
