import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore, RedisRateLimitStore } from '../../../src/stores/rate-limit.js';
import type { RateLimitBudget, RateLimitStore } from '../../../src/stores/rate-limit.js';
import { redisForSuite } from '../../helpers/redis-connection.js';
import { startRedisServer } from '../../helpers/redis-server.js';

const redis = redisForSuite();

/** Two "replicas" of one store kind: the memory store has one process only, so both are the same instance. */
type Make = (budget: RateLimitBudget) => Promise<[RateLimitStore, RateLimitStore]>;

const kinds: Array<[string, Make]> = [
  [
    'MemoryRateLimitStore',
    (budget) => {
      const store = new MemoryRateLimitStore(budget);
      return Promise.resolve([store, store]);
    },
  ],
  [
    'RedisRateLimitStore',
    async (budget) => {
      const {
        keyPrefix,
        pair: [a, b],
      } = await redis.replicas('test');
      return [
        new RedisRateLimitStore({ ...budget, client: a.client, keyPrefix }),
        new RedisRateLimitStore({ ...budget, client: b.client, keyPrefix }),
      ];
    },
  ],
];

async function admitted(stores: RateLimitStore[], callerId: string, attempts: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < attempts; i += 1) {
    const decision = await stores[i % stores.length]!.take(callerId);
    if (decision.allowed) allowed += 1;
  }
  return allowed;
}

describe.each(kinds)('%s (one behaviour for every store)', (_name, make) => {
  it('admits rps + burst at once, then refuses with a retry delay', async () => {
    const [store] = await make({ rps: 5, burst: 5 });
    expect(await admitted([store], 'caller-a', 10)).toBe(10);
    const refused = await store.take('caller-a');
    expect(refused.allowed).toBe(false);
    expect(refused.allowed === false && refused.retryAfterMs).toBeGreaterThan(0);
  });

  it('keeps one budget per caller', async () => {
    const [store] = await make({ rps: 2, burst: 1 });
    expect(await admitted([store], 'caller-b', 5)).toBe(3);
    expect(await admitted([store], 'caller-c', 5)).toBe(3);
  });

  it('counts one budget across replicas: 40 requests over two of them admit rps + burst', async () => {
    const stores = await make({ rps: 5, burst: 5 });
    expect(await admitted(stores, 'caller-d', 40)).toBe(10);
  });
});

describe('RedisRateLimitStore while Redis is unreachable', () => {
  it('falls back to the in-memory insurance limiter (same budget), never throws, and shares again once Redis is back', async () => {
    const own = await startRedisServer();
    const connection = await redis.connect(own.url);
    const store = new RedisRateLimitStore({ rps: 3, burst: 2, client: connection.client, keyPrefix: 'outage:' });
    await own.stop();
    await expect.poll(() => connection.state()).toBe('down');
    expect(await admitted([store], 'caller-e', 10)).toBe(5);
    await own.start();
    await expect.poll(() => connection.state(), { timeout: 10_000 }).toBe('ready');
    // Counted in Redis again: a second client sees the same budget.
    const probe = new Redis(own.url);
    await store.take('caller-f');
    expect(await probe.keys('outage:*')).not.toEqual([]);
    probe.disconnect();
    await own.stop();
  });
});
