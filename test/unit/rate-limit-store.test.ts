import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from '../../src/stores/rate-limit.js';

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
