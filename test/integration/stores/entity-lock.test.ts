import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { EntityLockTimeoutError } from '../../../src/stores/entity-lock.js';
import type { EntityLocks } from '../../../src/stores/entity-lock.js';
import type { RedisConnection } from '../../../src/stores/redis.js';
import { EntityLockUnavailableError, RedisEntityLocks } from '../../../src/stores/redis-entity-lock.js';
import { redisForSuite } from '../../helpers/redis-connection.js';
import { startRedisServer } from '../../helpers/redis-server.js';

const redis = redisForSuite();

interface Times {
  maxWaitMs: number;
  leaseMs: number;
}

/**
 * Two "replicas" of one lock store. The in-memory EntityLocks of the integrity work joins
 * this list (as one instance twice) when it lands; the behaviour below is the interface's.
 */
type Make = (times: Times) => Promise<{ a: EntityLocks; b: EntityLocks; keyPrefix: string; conn: RedisConnection }>;

const kinds: Array<[string, Make]> = [
  [
    'RedisEntityLocks',
    async (times) => {
      const { keyPrefix, pair } = await redis.replicas('locks');
      const logger = createLogger('silent');
      return {
        a: new RedisEntityLocks({ ...times, client: pair[0].client, keyPrefix, logger }),
        b: new RedisEntityLocks({ ...times, client: pair[1].client, keyPrefix, logger }),
        keyPrefix,
        conn: pair[0],
      };
    },
  ],
];

const times: Times = { maxWaitMs: 10_000, leaseMs: 5_000 };

describe.each(kinds)('%s', (_name, make) => {
  it('20 read-merge-writes of one entity over two replicas, all at once, keep all 20 changes', async () => {
    const { a, b } = await make(times);
    const entity = { tags: [] as number[] };
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).withLocks(['user:1'], async () => {
          const read = [...entity.tags];
          await sleep(2);
          entity.tags = [...read, i];
        }),
      ),
    );
    expect(entity.tags.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('takes overlapping key sets in sorted order: [a, b] and [b, a] at once never deadlock', async () => {
    const { a, b } = await make({ maxWaitMs: 3_000, leaseMs: 5_000 });
    const order: string[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).withLocks(i % 2 ? ['user:x', 'group:y'] : ['group:y', 'user:x'], async () => {
          order.push(`start ${i}`);
          await sleep(2);
          order.push(`end ${i}`);
        }),
      ),
    );
    // Never two holders at once: every start is followed by its own end.
    for (let i = 0; i < order.length; i += 2) expect(order[i + 1]).toBe(order[i]!.replace('start', 'end'));
  });

  it('gives up after the bounded wait with EntityLockTimeoutError, having run nothing', async () => {
    const { a, b } = await make({ maxWaitMs: 150, leaseMs: 5_000 });
    let release!: () => void;
    const holding = a.withLocks(['user:2'], () => new Promise<void>((resolve) => (release = resolve)));
    await sleep(20);
    let ran = false;
    await expect(
      b.withLocks(['user:2'], () => {
        ran = true;
        return Promise.resolve();
      }),
    ).rejects.toBeInstanceOf(EntityLockTimeoutError);
    expect(ran).toBe(false);
    release();
    await holding;
    await expect(b.withLocks(['user:2'], () => Promise.resolve('free again'))).resolves.toBe('free again');
  });

  it('a holder that runs longer than its lease keeps the key (renewed), and releases it when done', async () => {
    const { a, b } = await make({ maxWaitMs: 5_000, leaseMs: 150 });
    const events: string[] = [];
    const first = a.withLocks(['user:3'], async () => {
      events.push('a start');
      await sleep(600);
      events.push('a end');
    });
    await sleep(30);
    await b.withLocks(['user:3'], () => {
      events.push('b');
      return Promise.resolve();
    });
    await first;
    expect(events).toEqual(['a start', 'a end', 'b']);
  });

  it("a dead replica's keys free up after one lease", async () => {
    const { b, keyPrefix, conn } = await make({ maxWaitMs: 5_000, leaseMs: 5_000 });
    // What a replica killed while holding the key leaves behind.
    await conn.client.set(`${keyPrefix}lock:user:4`, 'dead-replica:1', 'PX', 300);
    await expect(b.withLocks(['user:4'], () => Promise.resolve('taken over'))).resolves.toBe('taken over');
    expect(await conn.client.keys(`${keyPrefix}lock:*`)).toEqual([]);
  });
});

describe('RedisEntityLocks while Redis is unreachable', () => {
  it('refuses the write with EntityLockUnavailableError, having run nothing', async () => {
    const own = await startRedisServer();
    const conn = await redis.connect(own.url);
    const locks = new RedisEntityLocks({
      ...times,
      client: conn.client,
      keyPrefix: 'o:',
      logger: createLogger('silent'),
    });
    await own.stop();
    let ran = false;
    await expect(
      locks.withLocks(['user:5'], () => {
        ran = true;
        return Promise.resolve();
      }),
    ).rejects.toBeInstanceOf(EntityLockUnavailableError);
    expect(ran).toBe(false);
  });
});
