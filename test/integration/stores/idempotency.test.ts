import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { IdempotencyUnavailableError, MemoryIdempotencyStore } from '../../../src/stores/idempotency.js';
import type { IdempotencyStore, StoredResult } from '../../../src/stores/idempotency.js';
import { RedisIdempotencyStore } from '../../../src/stores/redis-idempotency.js';
import { redisForSuite } from '../../helpers/redis-connection.js';
import { startRedisServer } from '../../helpers/redis-server.js';

const redis = redisForSuite();

interface Times {
  ttlMs: number;
  runningTtlMs: number;
}

/** Two "replicas" of one store kind; the memory store lives in one process, so both are one instance. */
type Make = (times: Times) => Promise<[IdempotencyStore, IdempotencyStore]>;

const kinds: Array<[string, Make]> = [
  [
    'MemoryIdempotencyStore',
    (times) => {
      const store = new MemoryIdempotencyStore(times);
      return Promise.resolve([store, store]);
    },
  ],
  [
    'RedisIdempotencyStore',
    async (times) => {
      const { keyPrefix, pair } = await redis.replicas('idem-test');
      const logger = createLogger('silent');
      return [
        new RedisIdempotencyStore({ ...times, client: pair[0].client, keyPrefix, logger }),
        new RedisIdempotencyStore({ ...times, client: pair[1].client, keyPrefix, logger }),
      ];
    },
  ],
];

const long: Times = { ttlMs: 60_000, runningTtlMs: 30_000 };
const result: StoredResult = {
  data: { createUser: { id: 'u-1', email: 'a@example.com', groups: [], when: null } },
  errors: [
    { message: 'partial', path: ['createUser', 'groups'], positions: [12], extensions: { code: 'UPSTREAM_TIMEOUT' } },
  ],
};

describe.each(kinds)('%s (one behaviour for every store)', (_name, make) => {
  it('runs the first claim, then replays its result, JSON-intact, on the other replica', async () => {
    const [a, b] = await make(long);
    expect(await a.claim('caller\nk1', 'fp')).toEqual({ state: 'new' });
    await a.complete('caller\nk1', result);
    expect(await b.claim('caller\nk1', 'fp')).toEqual({ state: 'done', result });
  });

  it('refuses the same key with another request, running or finished', async () => {
    const [a, b] = await make(long);
    await a.claim('caller\nk2', 'fp-1');
    expect(await b.claim('caller\nk2', 'fp-2')).toEqual({ state: 'mismatch' });
    await a.complete('caller\nk2', result);
    expect(await b.claim('caller\nk2', 'fp-2')).toEqual({ state: 'mismatch' });
  });

  it('keys are per scope: another caller with the same key runs', async () => {
    const [a, b] = await make(long);
    await a.claim('caller-1\nk3', 'fp');
    expect(await b.claim('caller-2\nk3', 'fp')).toEqual({ state: 'new' });
  });

  it('gives exactly one of 20 concurrent claims over two replicas the run; the others wait and then get its result', async () => {
    const [a, b] = await make(long);
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).claim('caller\nk4', 'fp')));
    expect(claims.filter((c) => c.state === 'new')).toHaveLength(1);
    const waiting = claims.filter((c) => c.state === 'running');
    expect(waiting).toHaveLength(19);
    const owner = claims.findIndex((c) => c.state === 'new') % 2 ? a : b;
    let settled = 0;
    const waits = waiting.map((c) => (c.state === 'running' ? c.settled.then(() => (settled += 1)) : undefined));
    expect(settled).toBe(0);
    await owner.complete('caller\nk4', result);
    await Promise.all(waits);
    expect(settled).toBe(19);
    expect(await a.claim('caller\nk4', 'fp')).toEqual({ state: 'done', result });
  });

  it('forgets a released claim, so a retry with the same key runs', async () => {
    const [a, b] = await make(long);
    await a.claim('caller\nk5', 'fp');
    const waiter = await b.claim('caller\nk5', 'fp');
    await a.release('caller\nk5');
    if (waiter.state === 'running') await waiter.settled;
    expect(await b.claim('caller\nk5', 'fp')).toEqual({ state: 'new' });
  });

  it('keeps an unknown outcome bound to its request: other content is refused, and the same request runs again once, as a retry of the unknown', async () => {
    const [a, b] = await make(long);
    await a.claim('caller\nk10', 'fp');
    await a.release('caller\nk10', 'unknown');
    expect(await b.claim('caller\nk10', 'fp-other')).toEqual({ state: 'mismatch' });
    expect(await b.claim('caller\nk10', 'fp')).toEqual({ state: 'new', retryOfUnknown: true });
    // The retry is running now: a duplicate waits for it instead of running a third time.
    const duplicate = await a.claim('caller\nk10', 'fp');
    expect(duplicate.state).toBe('running');
    await b.complete('caller\nk10', result);
    if (duplicate.state === 'running') await duplicate.settled;
    expect(await a.claim('caller\nk10', 'fp')).toEqual({ state: 'done', result });
  });

  it('a retry of an unknown outcome that did nothing itself leaves the outcome unknown (the first try may still have applied)', async () => {
    const [a, b] = await make(long);
    await a.claim('caller\nk11', 'fp');
    await a.release('caller\nk11', 'unknown');
    expect(await b.claim('caller\nk11', 'fp')).toEqual({ state: 'new', retryOfUnknown: true });
    await b.release('caller\nk11', 'not_applied');
    expect(await a.claim('caller\nk11', 'fp-other')).toEqual({ state: 'mismatch' });
    expect(await a.claim('caller\nk11', 'fp')).toEqual({ state: 'new', retryOfUnknown: true });
    // A first try that did nothing is forgotten, as before.
    await a.claim('caller\nk16', 'fp');
    await a.release('caller\nk16', 'not_applied');
    expect(await b.claim('caller\nk16', 'fp-other')).toEqual({ state: 'new' });
  });

  it('wakes the duplicates waiting on the other replica when the run ends unknown; exactly one of them runs the retry', async () => {
    const [a, b] = await make(long);
    await a.claim('caller\nk12', 'fp');
    const waiting = await Promise.all(Array.from({ length: 6 }, () => b.claim('caller\nk12', 'fp')));
    expect(waiting.map((c) => c.state)).toEqual(Array(6).fill('running'));
    await a.release('caller\nk12', 'unknown');
    await Promise.all(waiting.map((c) => (c.state === 'running' ? c.settled : undefined)));
    const again = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).claim('caller\nk12', 'fp')));
    expect(again.filter((c) => c.state === 'new')).toEqual([{ state: 'new', retryOfUnknown: true }]);
    expect(again.filter((c) => c.state === 'running')).toHaveLength(5);
  });

  it('keeps an unknown outcome for the TTL only', async () => {
    const [a, b] = await make({ ttlMs: 300, runningTtlMs: 30_000 });
    await a.claim('caller\nk13', 'fp');
    await a.release('caller\nk13', 'unknown');
    expect((await b.claim('caller\nk13', 'fp-other')).state).toBe('mismatch');
    await expect.poll(async () => (await b.claim('caller\nk13', 'fp-other')).state, { timeout: 5_000 }).toBe('new');
  });

  it('replays a finished result for the TTL only', async () => {
    const [a, b] = await make({ ttlMs: 300, runningTtlMs: 30_000 });
    await a.claim('caller\nk6', 'fp');
    await a.complete('caller\nk6', result);
    expect((await b.claim('caller\nk6', 'fp')).state).toBe('done');
    await expect.poll(async () => (await b.claim('caller\nk6', 'fp-other')).state, { timeout: 5_000 }).toBe('new');
  });

  it('treats a claim running longer than runningTtl as abandoned (its replica died): the next claim runs', async () => {
    const [a, b] = await make({ ttlMs: 60_000, runningTtlMs: 300 });
    await a.claim('caller\nk7', 'fp');
    await expect.poll(async () => (await b.claim('caller\nk7', 'fp')).state, { timeout: 5_000 }).toBe('new');
    await b.complete('caller\nk7', result);
    expect(await a.claim('caller\nk7', 'fp')).toEqual({ state: 'done', result });
  });

  it('an abandoned claim is an unknown outcome: the next claim of the same request runs as its retry, and other content is still refused', async () => {
    const [a, b] = await make({ ttlMs: 60_000, runningTtlMs: 300 });
    await a.claim('caller\nk14', 'fp');
    await expect
      .poll(async () => await b.claim('caller\nk14', 'fp'), { timeout: 5_000 })
      .toEqual({ state: 'new', retryOfUnknown: true });
    // The retry runs now: a duplicate waits for it; other content stays refused.
    expect((await a.claim('caller\nk14', 'fp')).state).toBe('running');
    expect(await a.claim('caller\nk14', 'fp-other')).toEqual({ state: 'mismatch' });
    await b.complete('caller\nk14', result);
    expect(await a.claim('caller\nk14', 'fp')).toEqual({ state: 'done', result });
  });

  it('wakes a duplicate waiting on an abandoned claim within runningTtl, and it runs as the retry', async () => {
    const [a, b] = await make({ ttlMs: 60_000, runningTtlMs: 400 });
    await a.claim('caller\nk15', 'fp');
    const waiting = await b.claim('caller\nk15', 'fp');
    expect(waiting.state).toBe('running');
    if (waiting.state === 'running') await waiting.settled;
    await expect
      .poll(async () => await b.claim('caller\nk15', 'fp'), { timeout: 5_000 })
      .toEqual({ state: 'new', retryOfUnknown: true });
  });
});

describe('RedisIdempotencyStore across replicas', () => {
  it("never lets a replica whose claim expired overwrite the next claim's outcome", async () => {
    const [a, b] = await kinds[1]![1]({ ttlMs: 60_000, runningTtlMs: 300 });
    await a.claim('caller\nk9', 'fp');
    await expect.poll(async () => (await b.claim('caller\nk9', 'fp')).state, { timeout: 5_000 }).toBe('new');
    await a.complete('caller\nk9', { data: { stale: true } });
    expect((await a.claim('caller\nk9', 'fp')).state).toBe('running');
    await b.complete('caller\nk9', result);
    expect(await a.claim('caller\nk9', 'fp')).toEqual({ state: 'done', result });
  });
});

describe('RedisIdempotencyStore while Redis is unreachable', () => {
  it('refuses to claim with IdempotencyUnavailableError, and claims again once Redis is back', async () => {
    const own = await startRedisServer();
    const connection = await redis.connect(own.url);
    const store = new RedisIdempotencyStore({
      ...long,
      client: connection.client,
      keyPrefix: 'o:',
      logger: createLogger('silent'),
    });
    await own.stop();
    await expect(store.claim('caller\nk8', 'fp')).rejects.toBeInstanceOf(IdempotencyUnavailableError);
    await own.start();
    await expect.poll(() => connection.state(), { timeout: 10_000 }).toBe('ready');
    expect(await store.claim('caller\nk8', 'fp')).toEqual({ state: 'new' });
    await own.stop();
  });
});
