import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { createRedisConnection } from '../../../src/stores/redis.js';
import type { RedisConnection } from '../../../src/stores/redis.js';
import { MemoryRateLimitStore, RedisRateLimitStore } from '../../../src/stores/rate-limit.js';
import type { RateLimitBudget, RateLimitStore } from '../../../src/stores/rate-limit.js';
import { startRedisServer } from '../../helpers/redis-server.js';
import type { RedisServer } from '../../helpers/redis-server.js';

let redis: RedisServer;
const connections: RedisConnection[] = [];
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await redis.stop();
});

async function connect(): Promise<RedisConnection> {
  const connection = createRedisConnection({ url: redis.url, keyPrefix: 'unused:', logger: createLogger('silent') });
  connections.push(connection);
  await new Promise<void>((resolve) =>
    connection.client.status === 'ready' ? resolve() : connection.client.once('ready', () => resolve()),
  );
  return connection;
}

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
      const keyPrefix = `test${(prefixes += 1)}:`;
      const [a, b] = await Promise.all([connect(), connect()]);
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
    const connection = createRedisConnection({ url: own.url, keyPrefix: 'x:', logger: createLogger('silent') });
    connections.push(connection);
    await new Promise<void>((resolve) => connection.client.once('ready', () => resolve()));
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
