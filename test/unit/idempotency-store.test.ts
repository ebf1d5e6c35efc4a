import { describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from '../../src/stores/idempotency.js';

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
    expect(await store.claim('a', 'f')).toEqual({ state: 'new', retryOfUnknown: true });
    await store.release('a');
    expect(await store.claim('a', 'f')).toEqual({ state: 'new', retryOfUnknown: true });
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
